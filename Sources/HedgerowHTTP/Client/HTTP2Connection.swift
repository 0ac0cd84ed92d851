import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix

/// One HTTP/2 connection to a peer, owned by one event loop. Streams are opened on it as calls arrive; calls
/// that arrive while it is connecting wait for the connect. When it closes or the peer sends GOAWAY it tells the
/// pool (`onClose`) so no new call is given to it.
final class HTTP2Connection: Sendable {
    let address: String
    private let loop: any EventLoop
    private let multiplexer: EventLoopFuture<NIOHTTP2Handler.StreamMultiplexer>
    private let channel: EventLoopFuture<any Channel>
    private let usable = NIOLockedValueBox(true)

    init(address: String, loop: any EventLoop, connectTimeout: TimeAmount, onClose: @escaping @Sendable (HTTP2Connection) -> Void) {
        self.address = address
        self.loop = loop
        let channelPromise = loop.makePromise(of: (any Channel).self)
        self.channel = channelPromise.futureResult
        // The connection is done for once the connect fails, the channel closes, or GOAWAY arrives: then it is
        // marked unusable and the pool forgets it. The watcher's callback is set before any I/O can fire it.
        let done = loop.makePromise(of: Void.self)
        let goAwayWatcher = GoAwayWatcher()
        goAwayWatcher.onGoAway = { done.succeed() }
        let multiplexerPromise = loop.makePromise(of: NIOHTTP2Handler.StreamMultiplexer.self)
        self.multiplexer = multiplexerPromise.futureResult

        let connect: EventLoopFuture<any Channel>
        do {
            let (host, port) = try HostAndPort.parse(address)
            connect = ClientBootstrap(group: loop)
                .connectTimeout(connectTimeout)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .connect(host: host, port: port)
        } catch {
            connect = loop.makeFailedFuture(error)
        }
        connect.whenComplete { result in
            switch result {
            case .success(let channel):
                channelPromise.succeed(channel)
                do {
                    let mux = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
                        mode: .client, connectionConfiguration: Self.connectionConfiguration, streamConfiguration: .init()
                    ) { $0.eventLoop.makeSucceededVoidFuture() }  // servers push nothing we accept
                    try channel.pipeline.syncOperations.addHandler(goAwayWatcher)
                    multiplexerPromise.succeed(mux)
                } catch {
                    multiplexerPromise.fail(HTTP2ClientError.connectFailed(address: address, reason: "\(error)"))
                    channel.close(promise: nil)
                }
            case .failure(let error):
                channelPromise.fail(error)
                multiplexerPromise.fail(HTTP2ClientError.connectFailed(address: address, reason: "\(error)"))
            }
        }
        channelPromise.futureResult.whenComplete { result in
            switch result {
            case .failure: done.succeed()
            case .success(let channel): channel.closeFuture.whenComplete { _ in done.succeed() }
            }
        }
        done.futureResult.whenComplete { [weak self, usable] _ in
            usable.withLockedValue { $0 = false }
            if let self { onClose(self) }
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

    func openStream(request: HTTPRequest, state: CallState) {
        let address = self.address
        multiplexer.whenComplete { result in
            switch result {
            case .failure(let error):
                state.fail(error as? HTTP2ClientError ?? .connectFailed(address: address, reason: "\(error)"))
            case .success(let multiplexer):
                guard !state.isFinished else { return }
                let promise = state.responsePromise
                multiplexer.createStreamChannel { stream in
                    stream.eventLoop.makeCompletedFuture {
                        try stream.pipeline.syncOperations.addHandlers([
                            HTTP2FramePayloadToHTTP1ClientCodec(httpProtocol: .http),
                            HTTP2ResponseCollector(promise: promise, address: address),
                        ])
                    }
                }.whenComplete { result in
                    switch result {
                    case .failure(let error):
                        state.fail(.streamRefused(address: address, reason: "cannot open a stream: \(error)"))
                    case .success(let stream):
                        state.attach(stream)
                        var headers = request.headers
                        if !headers.contains(name: "host") { headers.add(name: "host", value: address) }
                        headers.replaceOrAdd(name: "content-length", value: String(request.body.readableBytes))
                        let head = HTTPRequestHead(version: .http2, method: request.method, uri: request.target, headers: headers)
                        stream.write(HTTPClientRequestPart.head(head), promise: nil)
                        if request.body.readableBytes > 0 {
                            stream.write(HTTPClientRequestPart.body(.byteBuffer(request.body)), promise: nil)
                        }
                        stream.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
                    }
                }
            }
        }
    }

    func close() {
        channel.whenSuccess { $0.close(promise: nil) }
    }
}

/// Watches the connection's root stream for GOAWAY so the pool stops handing out a connection the peer is
/// closing (streams already open on it finish or fail on their own). (Errors seen here are not a reason to drop
/// the connection: stream-level ones, such as a late frame for a stream we reset, come through here too.)
final class GoAwayWatcher: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTP2Frame
    typealias InboundOut = HTTP2Frame

    /// Set before the connection is opened, then only read on the channel's event loop.
    var onGoAway: (@Sendable () -> Void)?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .goAway = unwrapInboundIn(data).payload { onGoAway?() }
        context.fireChannelRead(data)
    }

}
