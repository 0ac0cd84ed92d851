import NIOCore
import NIOHTTP2

/// Closes an HTTP/2 connection that has had no open stream for `idleTimeout`: a client that sent the preface and
/// then nothing, trickles a HEADERS frame that never completes, or left a pooled connection unused. Before
/// closing it sends GOAWAY NO_ERROR naming the last stream it saw, so a well-behaved client knows no request was
/// lost and retries elsewhere.
///
/// Sits right after `NIOHTTP2Handler` on the connection pipeline and counts streams from the
/// `NIOHTTP2StreamCreatedEvent` / `StreamClosedEvent` user events it emits. Streams waiting for a slow answer
/// keep the connection open (the responder's deadlines govern those); slow streams are bounded in number by
/// SETTINGS_MAX_CONCURRENT_STREAMS. Invariant: `openStreams >= 0`, and the deadline is set exactly when it is 0.
/// One timer per connection, re-armed when it fires: nothing is allocated per stream.
final class HTTP2IdleConnectionHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame
    typealias InboundOut = HTTP2Frame
    typealias OutboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    private let idleTimeout: TimeAmount
    private var openStreams = 0
    private var lastStreamID = HTTP2StreamID.rootStream
    private var deadline: NIODeadline?
    private var timer: Scheduled<Void>?
    private var closing = false

    init(idleTimeout: TimeAmount) {
        self.idleTimeout = idleTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        deadline = .now() + idleTimeout
        arm(context: context, at: deadline!)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let created = event as? NIOHTTP2StreamCreatedEvent {
            openStreams += 1
            if created.streamID > lastStreamID { lastStreamID = created.streamID }
            deadline = nil
        } else if event is StreamClosedEvent {
            openStreams = max(0, openStreams - 1)
            if openStreams == 0 { deadline = .now() + idleTimeout }
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func arm(context: ChannelHandlerContext, at when: NIODeadline) {
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: when) { [self] in
            timerFired(context: context)
        }
    }

    private func timerFired(context: ChannelHandlerContext) {
        timer = nil
        let now = NIODeadline.now()
        guard let deadline else {
            arm(context: context, at: now + idleTimeout)  // streams open: look again later
            return
        }
        guard deadline <= now else {
            arm(context: context, at: deadline)
            return
        }
        guard !closing else { return }
        closing = true
        let goAway = HTTP2Frame(streamID: .rootStream, payload: .goAway(lastStreamID: lastStreamID, errorCode: .noError, opaqueData: nil))
        // Written at once on an idle socket; closing right after does not wait on a peer that stopped reading.
        context.writeAndFlush(wrapOutboundOut(goAway), promise: nil)
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension HTTP2IdleConnectionHandler: Sendable {}
