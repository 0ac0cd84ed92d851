import Logging
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOSSL
import ServiceLifecycle

/// Where and how a server listens.
public struct HTTPServerConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// Largest request body accepted; larger ones get 413.
    public var maxBodyBytes: Int
    /// When set, the same port also accepts TLS and offers h2 and http/1.1 by ALPN (see `TLSFiles`).
    public var tls: NIOSSLContext?

    public static let defaultMaxBodyBytes = 16 * 1024 * 1024

    public init(host: String, port: Int, maxBodyBytes: Int = HTTPServerConfiguration.defaultMaxBodyBytes) {
        self.host = host
        self.port = port
        self.maxBodyBytes = maxBodyBytes
    }

    /// Parses `host:port` or `[v6]:port`.
    public init(listen: String, maxBodyBytes: Int = HTTPServerConfiguration.defaultMaxBodyBytes) throws {
        let (host, port) = try HostAndPort.parse(listen)
        self.init(host: host, port: port, maxBodyBytes: maxBodyBytes)
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
        let maxBody = configuration.maxBodyBytes
        let tls = configuration.tls
        return ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // The sniffer is the only handler, so what each branch adds lands right after it.
                    let sniffer = ProtocolSniffingHandler(
                        configureHTTP2: { context in try Self.configureHTTP2(context.pipeline.syncOperations, responder, maxBody) },
                        configureHTTP1: { context in try Self.configureHTTP1(context.pipeline.syncOperations, responder, maxBody) },
                        configureTLS: tls.map { tls in
                            { context in
                                try context.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
                                _ = context.channel.configureHTTP2SecureUpgrade(
                                    h2ChannelConfigurator: { channel in
                                        channel.eventLoop.makeCompletedFuture { try Self.configureHTTP2(channel.pipeline.syncOperations, responder, maxBody) }
                                    },
                                    http1ChannelConfigurator: { channel in
                                        channel.eventLoop.makeCompletedFuture { try Self.configureHTTP1(channel.pipeline.syncOperations, responder, maxBody) }
                                    }
                                )
                            }
                        }
                    )
                    try channel.pipeline.syncOperations.addHandler(sniffer)
                }
            }
    }

    private static func configureHTTP2(_ pipeline: ChannelPipeline.SynchronousOperations, _ responder: any HTTPResponder, _ maxBody: Int) throws {
        _ = try pipeline.configureHTTP2Pipeline(mode: .server, connectionConfiguration: .init(), streamConfiguration: .init()) { stream in
            stream.eventLoop.makeCompletedFuture {
                try stream.pipeline.syncOperations.addHandlers([
                    HTTP2FramePayloadToHTTP1ServerCodec(),
                    HTTPServerRequestHandler(responder: responder, maxBodyBytes: maxBody, isHTTP2: true),
                ])
            }
        }
    }

    private static func configureHTTP1(_ pipeline: ChannelPipeline.SynchronousOperations, _ responder: any HTTPResponder, _ maxBody: Int) throws {
        try pipeline.addHandlers(
            ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)),
            HTTPResponseEncoder(),
            HTTPServerPipelineHandler(),
            HTTPServerRequestHandler(responder: responder, maxBodyBytes: maxBody, isHTTP2: false)
        )
    }
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
