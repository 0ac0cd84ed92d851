import NIOCore
import NIOHTTP2

/// Counts an HTTP/2 connection's open streams, and with that count:
/// - closes a new connection whose first stream has not opened within `firstStreamTimeout` (a client that sent
///   the preface and then nothing, or trickles its first HEADERS frame a byte at a time), and a connection that
///   has had no open stream for `idleTimeout` since (a pooled connection left unused, or a later HEADERS
///   trickled), sending GOAWAY NO_ERROR with the last stream it saw first, so a well-behaved client knows which
///   requests were taken;
/// - closes a connection as soon as it has no open stream once the client sent GOAWAY, or once an error reached
///   the end of the connection pipeline (swift-nio-http2 reports protocol errors there, after its own GOAWAY or
///   RST_STREAM, and leaves the connection open). A client that declared the connection done, or whose frames
///   broke the protocol, gets no more streams served on it: a client that keeps opening streams after its own
///   GOAWAY (swift-nio-http2's client does after a connection error) would otherwise hold a connection on which
///   nothing can succeed, and a pool that keeps using it would wait on it forever;
/// - resets (RST_STREAM REFUSED_STREAM) a stream that would exceed `maxConcurrentStreams`. swift-nio-http2 only applies
///   our SETTINGS_MAX_CONCURRENT_STREAMS once the client acknowledged our SETTINGS; a client that never does
///   could otherwise open streams without bound.
///
/// Streams are counted up at their first HEADERS frame (a client stream id above the last one seen; swift-nio-http2
/// has checked the order) and down when swift-nio-http2 reports them closed (`StreamClosedEvent`). A refused
/// stream's frames stop here, so the request table after this handler never sees it. Streams waiting for a slow
/// answer keep the connection open (the responder's deadlines govern those). Invariants: `openStreams` counts
/// streams opened and not yet closed, reset and refused ones included; the idle deadline is set exactly when
/// `openStreams` is 0. One timer per connection, re-armed when it fires: nothing is allocated per stream.
final class HTTP2IdleAndStreamLimitHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame
    typealias InboundOut = HTTP2Frame
    typealias OutboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    private let idleTimeout: TimeAmount
    private let firstStreamTimeout: TimeAmount
    private let maxConcurrentStreams: Int
    private let eventLoop: any EventLoop
    private var openStreams = 0
    private var lastStreamID = HTTP2StreamID.rootStream
    private var deadline: NIODeadline?
    private var timer: Scheduled<Void>?
    private var closing = false
    /// The client sent GOAWAY or an error was reported: close when no stream is open.
    private var closesWhenQuiet = false
    private var context: ChannelHandlerContext?
    /// Streams reset for exceeding the limit, until swift-nio-http2 reports them closed.
    private var refused: Set<HTTP2StreamID> = []

    init(idleTimeout: TimeAmount, firstStreamTimeout: TimeAmount, maxConcurrentStreams: Int, eventLoop: any EventLoop) {
        self.idleTimeout = idleTimeout
        self.firstStreamTimeout = firstStreamTimeout
        self.maxConcurrentStreams = maxConcurrentStreams
        self.eventLoop = eventLoop
    }

    private func streamClosed(_ id: HTTP2StreamID) {
        refused.remove(id)
        openStreams = max(0, openStreams - 1)
        if openStreams == 0 {
            deadline = eventLoop.now + idleTimeout
            if closesWhenQuiet, let context { close(context: context) }
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.payload {
        case .goAway:
            closeWhenQuiet(context: context)
        case .headers where frame.streamID > lastStreamID:
            lastStreamID = frame.streamID
            openStreams += 1
            deadline = nil
            guard openStreams <= maxConcurrentStreams else {
                // Over the limit: reset before any of it is dispatched (REFUSED_STREAM: safe for the client to retry).
                refused.insert(frame.streamID)
                context.writeAndFlush(wrapOutboundOut(HTTP2Frame(streamID: frame.streamID, payload: .rstStream(.refusedStream))), promise: nil)
                return
            }
        default:
            if refused.contains(frame.streamID) { return }
        }
        context.fireChannelRead(data)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // Only streams counted here: one whose first HEADERS swift-nio-http2 refused as a stream error (it reports
        // the close at once, before any later stream) has an id above every stream seen, and was never counted.
        if let closed = event as? StreamClosedEvent, closed.streamID <= lastStreamID { streamClosed(closed.streamID) }
        context.fireUserInboundEventTriggered(event)
    }

    /// Connection errors only: a stream error (one malformed stream, already reset by swift-nio-http2) ends that
    /// stream, not the connection.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !(error is NIOHTTP2Errors.StreamError) { closeWhenQuiet(context: context) }
        context.fireErrorCaught(error)
    }

    private func closeWhenQuiet(context: ChannelHandlerContext) {
        closesWhenQuiet = true
        if openStreams == 0 { close(context: context) }
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if openStreams == 0 { deadline = context.eventLoop.now + firstStreamTimeout }
        arm(context: context, at: context.eventLoop.now + firstStreamTimeout)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        timer?.cancel()
        timer = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    private func arm(context: ChannelHandlerContext, at when: NIODeadline) {
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: when) { [self] in
            timerFired(context: context)
        }
    }

    private func timerFired(context: ChannelHandlerContext) {
        timer = nil
        let now = context.eventLoop.now
        guard let deadline else {
            arm(context: context, at: now + idleTimeout)  // streams open: look again later
            return
        }
        guard deadline <= now else {
            arm(context: context, at: deadline)
            return
        }
        close(context: context)
    }

    /// GOAWAY NO_ERROR naming the last stream seen, then close. Written at once on a quiet socket; closing right
    /// after does not wait on a peer that stopped reading.
    private func close(context: ChannelHandlerContext) {
        guard !closing else { return }
        closing = true
        let goAway = HTTP2Frame(streamID: .rootStream, payload: .goAway(lastStreamID: lastStreamID, errorCode: .noError, opaqueData: nil))
        context.writeAndFlush(wrapOutboundOut(goAway), promise: nil)
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension HTTP2IdleAndStreamLimitHandler: Sendable {}
