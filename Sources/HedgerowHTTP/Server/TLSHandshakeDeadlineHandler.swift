import NIOCore
import NIOTLS

/// Closes a TLS connection whose handshake has not completed within `timeout`: the protocol sniffer hands a
/// connection to TLS on its first byte (0x16), and NIOSSL itself waits for the rest of the handshake forever, so
/// without this a client could hold the connection with one byte. Sits right after `NIOSSLServerHandler`, and
/// removes itself once the handshake completed (`TLSUserEvent.handshakeCompleted`); after that the HTTP
/// pipelines' own timeouts apply.
final class TLSHandshakeDeadlineHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let timeout: TimeAmount
    private var deadline: Scheduled<Void>?

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        deadline = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
            context.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // Passed on first: the ALPN handler behind this one waits for this very event to install HTTP/2 or
        // HTTP/1.1, and an event fired through a removed handler's context would be lost.
        context.fireUserInboundEventTriggered(event)
        if case .handshakeCompleted = event as? TLSUserEvent {
            deadline?.cancel()
            deadline = nil
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
    }
}

@available(*, unavailable)
extension TLSHandshakeDeadlineHandler: Sendable {}
