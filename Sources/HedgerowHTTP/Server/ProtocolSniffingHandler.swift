import NIOCore

/// Chooses TLS, HTTP/2 with prior knowledge (h2c) or HTTP/1.1 for a connection by its first bytes, so that one
/// port serves all three.
///
/// A TLS client opens with a handshake record, first byte 0x16, which no HTTP/1.1 request line and no HTTP/2
/// preface starts with. An HTTP/2 client opens with the 24-byte preface `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`; no
/// HTTP/1.1 request can start that way. Bytes are buffered until the choice is certain, then the chosen pipeline
/// is installed after this handler, the buffered bytes are passed on, and this handler removes itself.
///
/// A connection that has not shown its protocol within `decisionTimeout` of becoming active (it sent nothing,
/// or trickles the 24-byte preface) is closed: until then it holds a socket and nothing else bounds it. At
/// most 24 bytes plus one read are ever buffered here.
final class ProtocolSniffingHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    static let preface: [UInt8] = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
    static let tlsHandshakeRecord: UInt8 = 0x16

    private let configureHTTP2: (ChannelHandlerContext) throws -> Void
    private let configureHTTP1: (ChannelHandlerContext) throws -> Void
    /// nil when the server has no certificate: a TLS client then gets the connection closed.
    private let configureTLS: ((ChannelHandlerContext) throws -> Void)?
    private let decisionTimeout: TimeAmount
    private var buffered: ByteBuffer?
    private var deadline: Scheduled<Void>?

    init(
        decisionTimeout: TimeAmount,
        configureHTTP2: @escaping (ChannelHandlerContext) throws -> Void,
        configureHTTP1: @escaping (ChannelHandlerContext) throws -> Void,
        configureTLS: ((ChannelHandlerContext) throws -> Void)? = nil
    ) {
        self.decisionTimeout = decisionTimeout
        self.configureHTTP2 = configureHTTP2
        self.configureHTTP1 = configureHTTP1
        self.configureTLS = configureTLS
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { startDeadline(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        startDeadline(context: context)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }

    private func startDeadline(context: ChannelHandlerContext) {
        guard deadline == nil else { return }
        deadline = context.eventLoop.assumeIsolated().scheduleTask(in: decisionTimeout) {
            // Still undecided: nothing or too little arrived in time.
            context.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var chunk = unwrapInboundIn(data)
        if buffered == nil { buffered = chunk } else { buffered!.writeBuffer(&chunk) }
        guard let bytes = buffered else { return }
        if bytes.readableBytesView.first == Self.tlsHandshakeRecord {
            choose(configureTLS, context: context, bytes: bytes)
            return
        }
        let seen = bytes.readableBytesView.prefix(Self.preface.count)
        let isPrefix = seen.elementsEqual(Self.preface.prefix(seen.count))
        if isPrefix && seen.count < Self.preface.count { return }  // need more bytes to decide
        choose(isPrefix ? configureHTTP2 : configureHTTP1, context: context, bytes: bytes)
    }

    private func choose(_ configure: ((ChannelHandlerContext) throws -> Void)?, context: ChannelHandlerContext, bytes: ByteBuffer) {
        buffered = nil
        deadline?.cancel()
        deadline = nil
        do {
            guard let configure else { throw ChannelError.inappropriateOperationForState }
            try configure(context)
        } catch {
            context.close(promise: nil)
            return
        }
        context.fireChannelRead(wrapInboundOut(bytes))
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        buffered = nil
        deadline?.cancel()
        deadline = nil
        context.fireChannelInactive()
    }
}

@available(*, unavailable)
extension ProtocolSniffingHandler: Sendable {}
