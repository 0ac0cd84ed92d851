import NIOCore
import NIOHTTP1

/// Closes an HTTP/1.1 connection that takes too long to deliver a request: against slowloris (a head sent a byte
/// at a time), bodies that trickle forever, and keep-alive connections left idle.
///
/// Sits between the HTTP/1.1 codec and `HTTPServerPipelineHandler`, so it sees decoded request parts coming in
/// and response parts going out (pipelined requests included). The deadline that applies:
/// - nothing in progress (a new connection, or every request answered): `idleTimeout`; as soon as bytes arrive
///   that do not complete a head, the head must follow within `requestHeadTimeout`. A new connection starts
///   with the head deadline, since the protocol sniffer only hands it over once the first bytes arrived;
/// - a head arrived but not its body's end: `idleTimeout` from the head;
/// - a request complete, its answer pending: none (the responder's own deadlines govern slow answers).
///
/// Invariant: `ended <= received <= heads`. The hot path (a request arriving in one read, answered later) only
/// does counter updates and one clock read per request; a single timer per connection is re-armed when it
/// fires, so no allocation happens per request.
final class HTTP1RequestTimeoutHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let requestHeadTimeout: TimeAmount
    private let idleTimeout: TimeAmount
    /// Request heads seen, requests seen complete (`.end` in), responses complete (`.end` out).
    private var heads = 0, received = 0, ended = 0
    /// When the connection is closed unless something changes; nil while an answer is pending.
    private var deadline: NIODeadline?
    /// While idle: whether the bytes of the next head started arriving (the shorter deadline then applies).
    private var headStarted = true
    /// Whether the current read delivered a request part (so its bytes were not a trickled head).
    private var readDeliveredParts = false
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline?

    init(requestHeadTimeout: TimeAmount, idleTimeout: TimeAmount) {
        self.requestHeadTimeout = requestHeadTimeout
        self.idleTimeout = idleTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        deadline = context.eventLoop.now + requestHeadTimeout
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

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        readDeliveredParts = true
        switch unwrapInboundIn(data) {
        case .head:
            heads += 1
            deadline = context.eventLoop.now + idleTimeout  // for its body
        case .body:
            break
        case .end:
            received += 1
            if received == heads { deadline = nil }  // complete: the answer is up to the responder
        }
        context.fireChannelRead(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if !readDeliveredParts && !headStarted && isIdle {
            // Bytes came that are not yet a whole head: from now on the head has `requestHeadTimeout`.
            headStarted = true
            let headDeadline = context.eventLoop.now + requestHeadTimeout
            if deadline.map({ headDeadline < $0 }) ?? true {
                deadline = headDeadline
                arm(context: context, at: headDeadline)
            }
        }
        readDeliveredParts = false
        context.fireChannelReadComplete()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            // An answer to a request that never parsed (400, 431) is not counted: the connection closes after it.
            ended = min(ended + 1, heads)
            if isIdle {
                headStarted = false
                deadline = context.eventLoop.now + idleTimeout
            }
        }
        context.write(data, promise: promise)
    }

    private var isIdle: Bool { ended == heads && received == heads }

    /// Keeps one timer: scheduled when none is, moved earlier only when the deadline moved earlier than it.
    private func arm(context: ChannelHandlerContext, at when: NIODeadline) {
        if let timerDeadline, timerDeadline <= when { return }
        timer?.cancel()
        timerDeadline = when
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: when) { [self] in
            timerFired(context: context)
        }
    }

    private func timerFired(context: ChannelHandlerContext) {
        timer = nil
        timerDeadline = nil
        let now = context.eventLoop.now
        guard let deadline else {
            // An answer is pending: look again later (one timer per period, not per request).
            arm(context: context, at: now + requestHeadTimeout)
            return
        }
        if deadline <= now {
            context.close(promise: nil)
        } else {
            arm(context: context, at: deadline)
        }
    }
}

@available(*, unavailable)
extension HTTP1RequestTimeoutHandler: Sendable {}
