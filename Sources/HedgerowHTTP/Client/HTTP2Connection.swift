import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP2
import NIOPosix

/// One HTTP/2 connection to a peer, owned by one event loop. Calls become streams of its `HTTP2ClientStreamTable`; calls
/// that arrive while it is connecting wait in the table. When it closes, the peer sends GOAWAY or its stream ids
/// run out, it becomes unusable and tells the pool (`onRetire`), so that no new call is given to it.
final class HTTP2Connection: Sendable {
    let address: String
    let loop: any EventLoop
    /// Touched only on `loop` (it is created wherever the pool is asked first, before any I/O can reach it).
    private let table: LoopConfined<HTTP2ClientStreamTable>
    private let channel: EventLoopFuture<any Channel>
    private let usable = NIOLockedValueBox(true)

    init(address: String, loop: any EventLoop, connectTimeout: TimeAmount, onRetire: @escaping @Sendable () -> Void) {
        self.address = address
        self.loop = loop
        let connect: EventLoopFuture<any Channel>
        do {
            let (host, port) = try HostAndPort.parse(address)
            connect = ClientBootstrap(group: loop)
                .connectTimeout(connectTimeout)
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .connect(host: host, port: port)
        } catch {
            connect = loop.makeFailedFuture(error)
        }
        self.channel = connect
        // The table exists before the connection does, so that calls can queue in it.
        // The pool hears of a retirement on a later turn, never from inside its own lock (a connect can fail at once).
        self.table = LoopConfined(HTTP2ClientStreamTable(address: address, onRetire: { [usable] in
            usable.withLockedValue { $0 = false }
            loop.execute { onRetire() }
        }))
        connect.whenComplete { [table = self.table] result in
            switch result {
            case .success(let channel):
                do {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(FlushCoalescingHandler())
                    try sync.addHandler(NIOHTTP2Handler(mode: .client, connectionConfiguration: Self.connectionConfiguration))
                    try sync.addHandler(table.value)
                } catch {
                    table.value.connectFailed(.connectFailed(address: address, reason: "\(error)"))
                    channel.close(promise: nil)
                }
            case .failure(let error):
                table.value.connectFailed(.connectFailed(address: address, reason: "\(error)"))
            }
        }
    }

    /// A router resets many streams (hedge losers, deadlines, clients that left), and the answers already on their
    /// way for them arrive after the reset. swift-nio-http2 remembers 32 recently reset streams by default; a frame
    /// for an older one is a STREAM_CLOSED connection error, after which the client sent GOAWAY and kept using the
    /// connection while every answer on it was dropped (a router's upstream wedged until each request's deadline;
    /// the worker's server now closes such a connection once its streams are done). Remember far more.
    static let connectionConfiguration: NIOHTTP2Handler.ConnectionConfiguration = {
        var configuration = NIOHTTP2Handler.ConnectionConfiguration()
        configuration.maximumRecentlyResetStreams = 4096
        return configuration
    }()

    var isUsable: Bool { usable.withLockedValue { $0 } }

    /// Starts `call` on this connection, from any thread.
    func send(_ request: HTTPRequest, call: CallState) {
        if loop.inEventLoop {
            table.value.send(request, call: call)
        } else {
            loop.execute { [table] in table.value.send(request, call: call) }
        }
    }

    func close() {
        channel.whenSuccess { $0.close(promise: nil) }
    }
}

/// A value that is only ever used on one event loop, handed across the `Sendable` boundary that the loop's
/// closures require. Unlike `NIOLoopBound` it can be created off the loop, before any work reaches it.
struct LoopConfined<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
