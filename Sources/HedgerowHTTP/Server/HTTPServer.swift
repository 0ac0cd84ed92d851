import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOSSL
import ServiceLifecycle

/// Where and how a server listens, and the limits it holds every client to.
///
/// Every byte a client sends is hostile until parsed: the limits below bound what one connection can make the
/// process hold (memory, streams, time) so that no client can take the server away from the others. Each has a
/// default in the initializer, so callers that only name an address keep working.
public struct HTTPServerConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// Largest request body accepted; larger ones get 413. Counted as bytes arrive, so it holds for HTTP/1.1
    /// chunked bodies and HTTP/2 DATA without a content-length too.
    public var maxBodyBytes: Int
    /// When set, the same port also accepts TLS and offers h2 and http/1.1 by ALPN (see `TLSFiles`).
    public var tls: NIOSSLContext?

    /// HTTP/2: streams one connection may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS). Once the client
    /// acknowledged our SETTINGS, swift-nio-http2 ends a connection that exceeds it (GOAWAY PROTOCOL_ERROR);
    /// before that, the server resets the extra streams itself before dispatching them. Bounds the work one
    /// connection can start; clients open more connections for more parallelism.
    public var maxConcurrentStreams: Int
    /// Largest request header section, bytes. HTTP/2: SETTINGS_MAX_HEADER_LIST_SIZE (names + values + 32 per
    /// field, RFC 7541), enforced on the decoded list, so an HPACK "bomb" (one big entry indexed thousands of
    /// times) fails at this size; until the client acknowledges our SETTINGS, swift-nio-http2's own 16 KiB bound
    /// applies. HTTP/1.1: the total of names and values, and the largest single field; over it the answer is 431
    /// and the connection is closed.
    public var maxHeaderListBytes: Int
    /// HTTP/1.1: most header fields in one request (431 above). HTTP/2 is bounded by `maxHeaderListBytes`,
    /// which charges 32 bytes per field.
    public var maxHeaderFields: Int
    /// HTTP/2: size of the HPACK dynamic table this server keeps per connection (SETTINGS_HEADER_TABLE_SIZE). A
    /// client's table size update above it is a COMPRESSION_ERROR.
    public var headerTableBytes: Int
    /// HTTP/2 rapid reset (CVE-2023-44487): RST_STREAM frames one connection may send within
    /// `resetStreamWindow` before it is closed with GOAWAY ENHANCE_YOUR_CALM. A router cancels the loser of
    /// every hedged call with a reset, so a worker behind a busy router may need a higher limit.
    public var maxResetStreamsPerWindow: Int
    public var resetStreamWindow: TimeAmount
    /// Time a client has to deliver a request head once it started sending it (its first byte, or the
    /// connection's protocol choice): slowloris clients that trickle a head a byte at a time are closed when it
    /// runs out. Also bounds how long a new connection may take to show which protocol it speaks, to finish a
    /// TLS handshake, and, on HTTP/2, to open its first stream.
    public var requestHeadTimeout: TimeAmount
    /// A connection with nothing in progress (HTTP/1.1: between requests; HTTP/2: no open stream) is closed
    /// after this long (HTTP/2 with GOAWAY NO_ERROR first), and so is an HTTP/1.1 request whose body is still
    /// arriving this long after its head. Waiting for a slow answer never counts: the responder's own
    /// deadlines govern that.
    public var idleTimeout: TimeAmount
    /// Most client connections open at once in this process; further ones are closed as soon as they are
    /// accepted. Keeps a flood of idle or slow connections from using up the file descriptors that upstream
    /// connections, model files and logs need. Clamped at `run()` to three quarters of the open-file limit.
    public var maxConnections: Int

    public static let defaultMaxBodyBytes = 16 * 1024 * 1024
    public static let defaultMaxConcurrentStreams = 100
    public static let defaultMaxHeaderListBytes = 32 * 1024
    public static let defaultMaxHeaderFields = 128
    public static let defaultHeaderTableBytes = 4096
    public static let defaultMaxResetStreamsPerWindow = 1000
    public static let defaultResetStreamWindow = TimeAmount.seconds(10)
    public static let defaultRequestHeadTimeout = TimeAmount.seconds(10)
    public static let defaultIdleTimeout = TimeAmount.seconds(60)
    public static let defaultMaxConnections = 8192

    public init(
        host: String, port: Int, maxBodyBytes: Int = HTTPServerConfiguration.defaultMaxBodyBytes,
        maxConcurrentStreams: Int = HTTPServerConfiguration.defaultMaxConcurrentStreams,
        maxHeaderListBytes: Int = HTTPServerConfiguration.defaultMaxHeaderListBytes,
        maxHeaderFields: Int = HTTPServerConfiguration.defaultMaxHeaderFields,
        headerTableBytes: Int = HTTPServerConfiguration.defaultHeaderTableBytes,
        maxResetStreamsPerWindow: Int = HTTPServerConfiguration.defaultMaxResetStreamsPerWindow,
        resetStreamWindow: TimeAmount = HTTPServerConfiguration.defaultResetStreamWindow,
        requestHeadTimeout: TimeAmount = HTTPServerConfiguration.defaultRequestHeadTimeout,
        idleTimeout: TimeAmount = HTTPServerConfiguration.defaultIdleTimeout,
        maxConnections: Int = HTTPServerConfiguration.defaultMaxConnections
    ) {
        self.host = host
        self.port = port
        self.maxBodyBytes = maxBodyBytes
        self.maxConcurrentStreams = maxConcurrentStreams
        self.maxHeaderListBytes = maxHeaderListBytes
        self.maxHeaderFields = maxHeaderFields
        self.headerTableBytes = headerTableBytes
        self.maxResetStreamsPerWindow = maxResetStreamsPerWindow
        self.resetStreamWindow = resetStreamWindow
        self.requestHeadTimeout = requestHeadTimeout
        self.idleTimeout = idleTimeout
        self.maxConnections = maxConnections
    }

    /// Parses `host:port` or `[v6]:port`.
    public init(listen: String, maxBodyBytes: Int = HTTPServerConfiguration.defaultMaxBodyBytes) throws {
        let (host, port) = try HostAndPort.parse(listen)
        self.init(host: host, port: port, maxBodyBytes: maxBodyBytes)
    }

    /// Refuses limits that cannot work, with the field named, before anything listens.
    func validate() throws {
        let positive: [(String, Int)] = [
            ("maxBodyBytes", maxBodyBytes), ("maxConcurrentStreams", maxConcurrentStreams),
            ("maxHeaderListBytes", maxHeaderListBytes), ("maxHeaderFields", maxHeaderFields),
            ("maxResetStreamsPerWindow", maxResetStreamsPerWindow), ("maxConnections", maxConnections),
        ]
        for (name, value) in positive where value < 1 {
            throw HTTPServerError(message: "server limit \(name) must be at least 1, got \(value)")
        }
        guard headerTableBytes >= 0, headerTableBytes <= Int(UInt32.max) else {
            throw HTTPServerError(message: "server limit headerTableBytes must be 0...\(UInt32.max), got \(headerTableBytes)")
        }
        for (name, value) in [("resetStreamWindow", resetStreamWindow), ("requestHeadTimeout", requestHeadTimeout), ("idleTimeout", idleTimeout)]
        where value <= .zero {
            throw HTTPServerError(message: "server timeout \(name) must be positive, got \(value)")
        }
    }
}

/// An HTTP server that speaks HTTP/2 with prior knowledge (h2c) and HTTP/1.1 on one port, and TLS with h2 or
/// HTTP/1.1 by ALPN on the same port when configured with a certificate, as a swift-service-lifecycle `Service`:
/// it binds in `run()`, and on graceful shutdown stops accepting and closes its listening socket.
public final class HTTPServer: Service, Sendable {
    private let configuration: HTTPServerConfiguration
    private let responder: any HTTPResponder
    private let group: any EventLoopGroup
    private let logger: Logger
    private let boundChannel: EventLoopPromise<any Channel>

    public init(configuration: HTTPServerConfiguration, responder: any HTTPResponder, group: any EventLoopGroup, logger: Logger) {
        self.configuration = configuration
        self.responder = responder
        self.group = group
        self.logger = logger
        self.boundChannel = group.next().makePromise()
    }

    /// The address the server is listening on, once it is (useful with port 0).
    public var localAddress: SocketAddress? {
        get async { try? await boundChannel.futureResult.get().localAddress }
    }

    public func run() async throws {
        try configuration.validate()
        let channel: any Channel
        do {
            channel = try await bootstrap().bind(host: configuration.host, port: configuration.port).get()
        } catch {
            boundChannel.fail(error)
            throw HTTPServerError(message: "cannot listen on \(configuration.host):\(configuration.port): \(error)")
        }
        boundChannel.succeed(channel)
        logger.info("listening", metadata: ["address": "\(channel.localAddress.map(String.init(describing:)) ?? "?")"])
        await withGracefulShutdownHandler {
            try? await channel.closeFuture.get()
        } onGracefulShutdown: {
            channel.close(promise: nil)
        }
    }

    private func bootstrap() -> ServerBootstrap {
        let responder = self.responder
        let configuration = self.configuration
        let connections = ConnectionCounter(limit: Self.clampedToFileLimit(configuration.maxConnections), logger: logger)
        return ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard connections.open(channel) else {
                        channel.close(promise: nil)
                        return
                    }
                    try Self.configureConnection(channel.pipeline.syncOperations, configuration: configuration, responder: responder)
                }
            }
    }

    /// The pipeline of one accepted connection: the protocol sniffer (with its deadline), which then installs
    /// TLS, HTTP/2 or HTTP/1.1 with every limit of `configuration`. Separate from the bootstrap so tests can
    /// drive the exact pipeline the server runs on an `EmbeddedChannel`.
    static func configureConnection(
        _ pipeline: ChannelPipeline.SynchronousOperations, configuration: HTTPServerConfiguration, responder: any HTTPResponder
    ) throws {
        let tls = configuration.tls
        // The sniffer is the only handler, so what each branch adds lands right after it.
        let sniffer = ProtocolSniffingHandler(
            decisionTimeout: configuration.requestHeadTimeout,
            configureHTTP2: { context in try configureHTTP2(context.pipeline.syncOperations, responder, configuration) },
            configureHTTP1: { context in try configureHTTP1(context.pipeline.syncOperations, responder, configuration) },
            configureTLS: tls.map { tls in
                { context in
                    try context.pipeline.syncOperations.addHandlers(
                        NIOSSLServerHandler(context: tls), TLSHandshakeDeadlineHandler(timeout: configuration.requestHeadTimeout)
                    )
                    _ = context.channel.configureHTTP2SecureUpgrade(
                        h2ChannelConfigurator: { channel in
                            channel.eventLoop.makeCompletedFuture { try configureHTTP2(channel.pipeline.syncOperations, responder, configuration) }
                        },
                        http1ChannelConfigurator: { channel in
                            channel.eventLoop.makeCompletedFuture { try configureHTTP1(channel.pipeline.syncOperations, responder, configuration) }
                        }
                    )
                }
            }
        )
        try pipeline.addHandler(sniffer)
    }

    /// swift-nio-http2's connection settings from the configuration. The CONTINUATION (CVE-2024-27316), control
    /// frame rate and empty DATA limits are swift-nio-http2's defaults, named here so a reader sees them; the
    /// buffered control frame bound is lowered from its 10,000.
    static func http2ConnectionConfiguration(_ configuration: HTTPServerConfiguration) -> NIOHTTP2Handler.ConnectionConfiguration {
        var connection = NIOHTTP2Handler.ConnectionConfiguration()
        connection.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: configuration.maxConcurrentStreams),
            HTTP2Setting(parameter: .maxHeaderListSize, value: configuration.maxHeaderListBytes),
            HTTP2Setting(parameter: .headerTableSize, value: configuration.headerTableBytes),
            HTTP2Setting(parameter: .enablePush, value: 0),
        ]
        // A header block may span at most 5 CONTINUATION frames; an endless run is a connection error.
        connection.maximumSequentialContinuationFrames = 5
        // Frames the server must answer (PING, SETTINGS ACKs) queued while the peer does not read: over this,
        // the connection is closed instead of growing.
        connection.maximumBufferedControlFrames = 1000
        // PING / SETTINGS / PRIORITY floods: at most 200 per 30 s.
        connection.controlFrameRateLimit.maximumCount = 200
        connection.controlFrameRateLimit.windowLength = .seconds(30)
        connection.maximumSequentialEmptyDataFrames = 1
        return connection
    }

    static func http2StreamConfiguration(_ configuration: HTTPServerConfiguration) -> NIOHTTP2Handler.StreamConfiguration {
        var stream = NIOHTTP2Handler.StreamConfiguration()
        stream.streamResetFrameRateLimit.maximumCount = configuration.maxResetStreamsPerWindow
        stream.streamResetFrameRateLimit.windowLength = configuration.resetStreamWindow
        return stream
    }

    /// An HTTP/2 connection: flushes once per loop turn, swift-nio-http2's protocol handler without a stream
    /// multiplexer, the idle and stream limits, and the table of requests (see `HTTP2ServerStreamTable`).
    private static func configureHTTP2(_ pipeline: ChannelPipeline.SynchronousOperations, _ responder: any HTTPResponder, _ configuration: HTTPServerConfiguration) throws {
        try pipeline.addHandlers(
            FlushCoalescingHandler(),
            NIOHTTP2Handler(
                mode: .server, connectionConfiguration: http2ConnectionConfiguration(configuration),
                streamConfiguration: http2StreamConfiguration(configuration)
            ),
            HTTP2IdleAndStreamLimitHandler(
                idleTimeout: configuration.idleTimeout, firstStreamTimeout: configuration.requestHeadTimeout,
                maxConcurrentStreams: configuration.maxConcurrentStreams, eventLoop: pipeline.eventLoop
            ),
            HTTP2ServerStreamTable(responder: responder, maxBodyBytes: configuration.maxBodyBytes)
        )
    }

    private static func configureHTTP1(_ pipeline: ChannelPipeline.SynchronousOperations, _ responder: any HTTPResponder, _ configuration: HTTPServerConfiguration) throws {
        var limits = NIOHTTPDecoderLimitConfiguration()
        limits.maxHeaderListSize = configuration.maxHeaderListBytes
        limits.maxHeaderFieldSize = configuration.maxHeaderListBytes
        limits.maxHeaderFieldCount = configuration.maxHeaderFields
        try pipeline.addHandlers(
            ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes, informationalResponseStrategy: .drop, limitConfiguration: limits)),
            HTTPResponseEncoder(),
            HTTP1RequestTimeoutHandler(requestHeadTimeout: configuration.requestHeadTimeout, idleTimeout: configuration.idleTimeout),
            HTTPServerPipelineHandler(),
            HTTPServerRequestHandler(responder: responder, maxBodyBytes: configuration.maxBodyBytes)
        )
    }

    /// `limit`, but at most three quarters of the process's open-file limit: the rest stays for upstream
    /// connections, model files and logs, so a connection flood cannot starve them.
    static func clampedToFileLimit(_ limit: Int) -> Int {
        var files = rlimit()
        #if canImport(Glibc)
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        #else
        let resource = RLIMIT_NOFILE
        #endif
        // RLIM_INFINITY is the largest value: `clamping` turns it into Int.max, leaving `limit` as it is.
        guard getrlimit(resource, &files) == 0 else { return limit }
        return max(1, min(limit, Int(clamping: files.rlim_cur) / 4 * 3))
    }
}

/// Counts a server's open client connections and refuses those over the limit (see
/// `HTTPServerConfiguration.maxConnections`). Touched once per connection, never per request.
final class ConnectionCounter: Sendable {
    private let limit: Int
    private let logger: Logger
    /// (open now, refused since the last warning)
    private let state = NIOLockedValueBox((open: 0, refused: 0))

    init(limit: Int, logger: Logger) {
        self.limit = limit
        self.logger = logger
    }

    /// Counts `channel` as open until it closes; false (and not counted) when the limit is reached.
    func open(_ channel: any Channel) -> Bool {
        let (admitted, warn) = state.withLockedValue { state -> (Bool, Bool) in
            guard state.open < limit else {
                state.refused += 1
                return (false, state.refused == 1)
            }
            state.open += 1
            return (true, false)
        }
        if warn {
            logger.warning("connection limit reached: closing new connections until some close", metadata: ["limit": "\(limit)"])
        }
        guard admitted else { return false }
        channel.closeFuture.whenComplete { [state, limit] _ in
            state.withLockedValue { state in
                state.open -= 1
                if state.open < limit { state.refused = 0 }
            }
        }
        return true
    }

    var openConnections: Int { state.withLockedValue { $0.open } }
}

public struct HTTPServerError: Error, CustomStringConvertible {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}

/// `host:port` parsing shared by every flag that names an address.
public enum HostAndPort {
    public static func parse(_ text: String) throws -> (host: String, port: Int) {
        var host: Substring
        var portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                throw HTTPServerError(message: "invalid address '\(text)': expected [IPv6]:PORT")
            }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else {
                throw HTTPServerError(message: "invalid address '\(text)': expected HOST:PORT")
            }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard !host.isEmpty, let port = Int(portText), (0...65535).contains(port) else {
            throw HTTPServerError(message: "invalid address '\(text)': expected HOST:PORT with a port from 0 to 65535")
        }
        return (String(host), port)
    }
}
