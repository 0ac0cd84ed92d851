import HedgerowHTTP
import NIOCore

/// How the router reaches replicas: send one request, get its answer or reset it. `HTTP2ClientPool` is the
/// real one; tests give `HedgedCall` a scripted one and drive it on an embedded event loop.
///
/// A failed `response` carries an `HTTP2ClientError`: the call's decisions (retry for free, retry once, give up)
/// are made on its cases, never on messages.
public protocol UpstreamTransport: Sendable {
    /// Sends `request` to `replica` (`host:port`); the response completes on `eventLoop`. With a `timeout`, the
    /// attempt fails with `HTTP2ClientError.timedOut` and is reset when it passes.
    func send(_ request: HTTPRequest, to replica: String, on eventLoop: any EventLoop, timeout: TimeAmount?) -> UpstreamAttempt
}

/// One request in flight to a replica.
public struct UpstreamAttempt: Sendable {
    public let response: EventLoopFuture<HTTPResponse>
    /// Resets the request (HTTP/2 RST_STREAM CANCEL) so that the replica can drop it; the response then fails
    /// with `HTTP2ClientError.cancelled` unless it already completed.
    public let cancel: @Sendable () -> Void

    public init(response: EventLoopFuture<HTTPResponse>, cancel: @escaping @Sendable () -> Void) {
        self.response = response
        self.cancel = cancel
    }
}

extension HTTP2ClientPool: UpstreamTransport {
    public func send(_ request: HTTPRequest, to replica: String, on eventLoop: any EventLoop, timeout: TimeAmount?) -> UpstreamAttempt {
        let call = execute(request, to: replica, on: eventLoop, timeout: timeout)
        return UpstreamAttempt(response: call.response, cancel: { call.cancel() })
    }
}
