import NIOCore

/// Chooses HTTP/2 (prior knowledge, h2c) or HTTP/1.1 for a cleartext connection by its first bytes.
///
/// An HTTP/2 client opens with the 24-byte preface `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`; no HTTP/1.1 request can
/// start that way. Bytes are buffered until they match the whole preface or stop matching it, then the chosen
/// pipeline is installed after this handler, the buffered bytes are passed on, and this handler removes itself.
final class ProtocolSniffingHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    static let preface: [UInt8] = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    private let configureHTTP2: (ChannelHandlerContext) throws -> Void
    private let configureHTTP1: (ChannelHandlerContext) throws -> Void
    private var buffered: ByteBuffer?

    init(configureHTTP2: @escaping (ChannelHandlerContext) throws -> Void, configureHTTP1: @escaping (ChannelHandlerContext) throws -> Void) {
        self.configureHTTP2 = configureHTTP2
        self.configureHTTP1 = configureHTTP1
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var chunk = unwrapInboundIn(data)
        if buffered == nil { buffered = chunk } else { buffered!.writeBuffer(&chunk) }
        guard let bytes = buffered else { return }
        let seen = bytes.readableBytesView.prefix(Self.preface.count)
        let isPrefix = seen.elementsEqual(Self.preface.prefix(seen.count))
        if isPrefix && seen.count < Self.preface.count { return }  // need more bytes to decide
        do {
            try (isPrefix ? configureHTTP2 : configureHTTP1)(context)
        } catch {
            context.close(promise: nil)
            return
        }
        buffered = nil
        context.fireChannelRead(wrapInboundOut(bytes))
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        buffered = nil
        context.fireChannelInactive()
    }
}

@available(*, unavailable)
extension ProtocolSniffingHandler: Sendable {}
