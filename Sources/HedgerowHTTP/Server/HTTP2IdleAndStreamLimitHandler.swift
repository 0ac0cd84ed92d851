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
/// - resets (RST_STREAM CANCEL) a stream that would exceed `maxConcurrentStreams`. swift-nio-http2 only applies
///   our SETTINGS_MAX_CONCURRENT_STREAMS once the client acknowledged our SETTINGS; a client that never does
///   could otherwise open streams without bound.
///
/// Streams are counted up by the inbound stream initializer (`admitStream`, before any frame of the stream is
/// delivered) and down through a `NIOHTTP2StreamDelegate` (`delegate`, handed to `configureHTTP2Pipeline`): the
/// inline stream multiplexer does not pass stream events down the connection pipeline, and its delegate hears of a
/// stream only after its first frame was delivered, too late to refuse it. Streams waiting for
/// a slow answer keep the connection open (the responder's deadlines govern those). Invariants: `openStreams`
/// counts streams created and not yet closed, reset ones included until swift-nio-http2 reports them closed; the
/// idle deadline is set exactly when `openStreams` is 0. One timer per connection, re-armed when it fires:
/// nothing is allocated per stream.
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

    init(idleTimeout: TimeAmount, firstStreamTimeout: TimeAmount, maxConcurrentStreams: Int, eventLoop: any EventLoop) {
        self.idleTimeout = idleTimeout
        self.firstStreamTimeout = firstStreamTimeout
        self.maxConcurrentStreams = maxConcurrentStreams
        self.eventLoop = eventLoop
    }

    /// Tells this handler about streams; called by swift-nio-http2 on the connection's event loop.
    var delegate: any NIOHTTP2StreamDelegate { Delegate(handler: NIOLoopBound(self, eventLoop: eventLoop)) }

    /// For the inbound stream initializer, which must be `Sendable`.
    var loopBound: NIOLoopBound<HTTP2IdleAndStreamLimitHandler> { NIOLoopBound(self, eventLoop: eventLoop) }

    private struct Delegate: NIOHTTP2StreamDelegate {
        let handler: NIOLoopBound<HTTP2IdleAndStreamLimitHandler>
        func streamCreated(_ id: HTTP2StreamID, channel: any Channel) { handler.value.streamCreated(id) }
        func streamClosed(_ id: HTTP2StreamID, channel: any Channel) { handler.value.streamClosed() }
    }

    /// Called by the inbound stream initializer before the stream's first frame reaches its pipeline: false when
    /// the stream would exceed the limit, and the caller then closes it (RST_STREAM) without a pipeline, so no
    /// request on it is ever dispatched. Counted either way, until swift-nio-http2 reports the stream closed.
    func admitStream() -> Bool {
        openStreams += 1
        deadline = nil
        return openStreams <= maxConcurrentStreams
    }

    private func streamCreated(_ id: HTTP2StreamID) {
        if id > lastStreamID { lastStreamID = id }
    }

    private func streamClosed() {
        openStreams = max(0, openStreams - 1)
        if openStreams == 0 {
            deadline = eventLoop.now + idleTimeout
            if closesWhenQuiet, let context { close(context: context) }
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .goAway = unwrapInboundIn(data).payload { closeWhenQuiet(context: context) }
        context.fireChannelRead(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        closeWhenQuiet(context: context)
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
