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

/// Pooled HTTP/2 (prior knowledge, h2c) connections to peers, many concurrent streams per connection, each
/// stream an entry of its connection's `HTTP2ClientStreamTable` rather than a channel of its own.
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
        let state = CallState(promise: promise, loop: loop)
        if let timeout {
            let task = loop.scheduleTask(in: timeout) {
                state.fail(HTTP2ClientError.timedOut(address: address))
            }
            promise.futureResult.whenComplete { _ in task.cancel() }
        }
        connection(to: address, on: loop).send(request, call: state)
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
            let connection = HTTP2Connection(address: address, loop: loop, connectTimeout: connectTimeout) { [weak self] in
                // The retired connection, or an unusable successor (which is on its way out too).
                self?.connections.withLockedValue { connections in
                    if let current = connections[key], !current.isUsable { connections[key] = nil }
                }
            }
            connections[key] = connection
            return connection
        }
    }
}

/// The state of one call, on the event loop of its connection. `fail` and `cancel` may come from any thread
/// (a caller's timeout or cancellation); they hop to the loop, so that the table, the promise and the stream id
/// are only ever touched there.
final class CallState: @unchecked Sendable {
    private let promise: EventLoopPromise<HTTPResponse>
    private let loop: any EventLoop
    // Loop-confined (see above): the stream the call rides once it was sent, and whether it ended.
    private var stream: (table: HTTP2ClientStreamTable, id: Int32)?
    private var finished = false

    init(promise: EventLoopPromise<HTTPResponse>, loop: any EventLoop) {
        self.promise = promise
        self.loop = loop
    }

    /// Whether the call already ended (then it is not sent at all). Loop only.
    var isFinished: Bool { finished }

    /// Records the stream the call was sent on. Loop only.
    func attach(table: HTTP2ClientStreamTable, stream id: Int32) {
        stream = (table, id)
    }

    /// The answer arrived. Loop only.
    func succeed(_ response: HTTPResponse) {
        guard !finished else { return }
        finished = true
        stream = nil
        promise.succeed(response)
    }

    func cancel() { fail(HTTP2ClientError.cancelled) }

    /// Ends the call with `error`; a stream still open is reset so that the peer can drop the work. The first
    /// outcome wins.
    func fail(_ error: HTTP2ClientError) {
        guard loop.inEventLoop else {
            loop.execute { self.fail(error) }
            return
        }
        guard !finished else { return }
        finished = true
        if let (table, id) = stream {
            stream = nil
            table.reset(stream: id)
        }
        promise.fail(error)
    }
}
