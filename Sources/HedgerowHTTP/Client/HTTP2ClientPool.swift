import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix

/// One in-flight upstream request. `cancel()` resets its stream (RST_STREAM CANCEL) so the peer can drop it.
public struct HTTP2ClientCall: Sendable {
    public let response: EventLoopFuture<HTTPResponse>
    fileprivate let state: CallState

    public func cancel() { state.cancel() }
}

/// Pooled HTTP/2 (prior knowledge, h2c) connections to peers, many concurrent streams per connection.
///
/// One connection per (peer address, event loop): a call issued on an event loop rides a connection owned by that
/// loop, so the hot path never hops threads. A connection that closes or receives GOAWAY leaves the pool at once;
/// the next call opens a fresh one. Connect failures fail the call with `HTTP2ClientError.connectFailed`.
public final class HTTP2ClientPool: Sendable {
    private let group: any EventLoopGroup
    private let connectTimeout: TimeAmount
    private let connections = NIOLockedValueBox<[ConnectionKey: HTTP2Connection]>([:])

    struct ConnectionKey: Hashable {
        var address: String
        var loop: ObjectIdentifier
    }

    public init(group: any EventLoopGroup, connectTimeout: TimeAmount = .seconds(1)) {
        self.group = group
        self.connectTimeout = connectTimeout
    }

    /// Sends `request` to `address` (`host:port`). The call's future completes on `eventLoop` (or one of the
    /// group's loops). With a `timeout`, the call fails with `.timedOut` and its stream is reset when it passes.
    public func execute(_ request: HTTPRequest, to address: String, on eventLoop: (any EventLoop)? = nil, timeout: TimeAmount? = nil) -> HTTP2ClientCall {
        let loop = eventLoop ?? group.next()
        let promise = loop.makePromise(of: HTTPResponse.self)
        let state = CallState(promise: promise)
        if let timeout {
            let task = loop.scheduleTask(in: timeout) {
                state.fail(HTTP2ClientError.timedOut(address: address))
            }
            promise.futureResult.whenComplete { _ in task.cancel() }
        }
        connection(to: address, on: loop).openStream(request: request, state: state)
        return HTTP2ClientCall(response: promise.futureResult, state: state)
    }

    /// Closes every pooled connection.
    public func shutdown() {
        let all = connections.withLockedValue { connections in
            defer { connections.removeAll() }
            return Array(connections.values)
        }
        for connection in all { connection.close() }
    }

    private func connection(to address: String, on loop: any EventLoop) -> HTTP2Connection {
        let key = ConnectionKey(address: address, loop: ObjectIdentifier(loop))
        return connections.withLockedValue { connections in
            if let existing = connections[key], existing.isUsable { return existing }
            let connection = HTTP2Connection(address: address, loop: loop, connectTimeout: connectTimeout) { [weak self] closed in
                self?.connections.withLockedValue { connections in
                    if connections[key] === closed { connections[key] = nil }
                }
            }
            connections[key] = connection
            return connection
        }
    }
}

/// The shared state of one call, touched from the caller (cancel, timeout) and from the stream's loop.
final class CallState: Sendable {
    private let promise: EventLoopPromise<HTTPResponse>
    private let stream = NIOLockedValueBox<(channel: (any Channel)?, finished: Bool)>((nil, false))

    init(promise: EventLoopPromise<HTTPResponse>) {
        self.promise = promise
        promise.futureResult.whenComplete { [stream] _ in
            stream.withLockedValue { $0.finished = true }
        }
    }

    var isFinished: Bool { stream.withLockedValue { $0.finished } }

    /// Records the stream; if the call already ended (cancelled, timed out) the stream is reset at once.
    func attach(_ channel: any Channel) {
        let closeNow = stream.withLockedValue { state -> Bool in
            if state.finished { return true }
            state.channel = channel
            return false
        }
        if closeNow { channel.close(promise: nil) }
    }

    func cancel() { fail(HTTP2ClientError.cancelled) }

    func fail(_ error: HTTP2ClientError) {
        let channel = stream.withLockedValue { state -> (any Channel)? in
            state.finished = true
            return state.channel
        }
        promise.fail(error)  // NIO ignores completing a completed promise: the first outcome wins
        channel?.close(promise: nil)
    }

    var responsePromise: EventLoopPromise<HTTPResponse> { promise }
}
