import NIOCore

/// Turns the flushes an HTTP/2 connection receives during one event-loop turn into one socket write.
///
/// Every stream flushes when its message is complete: a router answering 16 streams that completed in one read of
/// an upstream connection, or forwarding 16 requests that arrived in one read of a client connection, would
/// otherwise make 16 `writev` calls, and system calls were the largest item of the router's profile after
/// reference counting. Here the first flush of a turn schedules one flush as a task; NIO runs tasks after the
/// I/O events of the turn, so every frame written meanwhile leaves in that one flush. The delay is bounded by the
/// turn the flush came from: nothing waits for a timer or a later read.
///
/// Sits directly below `NIOHTTP2Handler` (on the socket side, or the TLS handler's side with TLS).
final class FlushCoalescingHandler: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var flushScheduled = false

    func flush(context: ChannelHandlerContext) {
        guard !flushScheduled else { return }
        flushScheduled = true
        context.eventLoop.assumeIsolated().execute {
            self.flushScheduled = false
            context.flush()
        }
    }

    /// What was written before a close must still leave (a response followed at once by GOAWAY and close), also
    /// when the close comes before the writer's own flush, as NIOHTTP2Handler's can when a stream's end closes the
    /// connection.
    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        flushScheduled = false
        context.flush()
        context.close(mode: mode, promise: promise)
    }
}

@available(*, unavailable)
extension FlushCoalescingHandler: Sendable {}
