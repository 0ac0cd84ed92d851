import HedgerowCore
import HedgerowHTTP
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import Testing

/// The server and the pooled client over real loopback sockets: h2c and HTTP/1.1 on one port, body limits,
/// and a client-side cancel reaching the server as a fired `CancellationSignal`.
@Suite struct HTTPServerTests {
    final class Echo: HTTPResponder {
        let cancelled = NIOLockedValueBox(0)
        let seen = NIOLockedValueBox<[Bool]>([])

        func respond(to request: HTTPRequest, context: RequestContext) -> EventLoopFuture<HTTPResponse> {
            seen.withLockedValue { $0.append(context.isHTTP2) }
            if request.path == "/slow" {
                let promise = context.eventLoop.makePromise(of: HTTPResponse.self)
                context.cancellation.onCancel { [cancelled] in cancelled.withLockedValue { $0 += 1 } }
                context.eventLoop.scheduleTask(in: .seconds(5)) { promise.succeed(.text("late")) }
                return promise.futureResult
            }
            if request.path == "/trailers" {
                let body = request.query("empty") == nil ? ByteBuffer(string: "message") : ByteBuffer()
                return context.eventLoop.makeSucceededFuture(HTTPResponse(status: .ok, headers: ["content-type": "application/grpc"], body: body,
                                                                          trailers: ["grpc-status": "0", "grpc-message": "fine"]))
            }
            if request.path == "/bytes", let count = request.query("count").flatMap({ Int($0) }) {
                return context.eventLoop.makeSucceededFuture(HTTPResponse(status: .ok, body: ByteBuffer(repeating: 7, count: count)))
            }
            return context.eventLoop.makeSucceededFuture(.text("\(request.method) \(request.target) \(request.body.readableBytes)"))
        }
    }

    func withServer(maxBody: Int = 1024, maxConnections: Int = HTTPServerConfiguration.defaultMaxConnections, _ body: (String, Echo, HTTP2ClientPool) async throws -> Void) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let echo = Echo()
        let configuration = HTTPServerConfiguration(host: "127.0.0.1", port: 0, maxBodyBytes: maxBody, maxConnections: maxConnections)
        let server = HTTPServer(configuration: configuration, responder: echo, group: group, logger: .init(label: "test"))
        let task = Task { try await server.run() }
        let port = try #require(await server.localAddress?.port)
        let client = HTTP2ClientPool(group: group)
        do {
            try await body("127.0.0.1:\(port)", echo, client)
        } catch {
            task.cancel()
            client.shutdown()
            throw error
        }
        task.cancel()
        client.shutdown()
        try await group.shutdownGracefully()
    }

    @Test func servesHTTP2WithManyStreamsOnOneConnection() async throws {
        try await withServer { address, echo, client in
            try await withThrowingTaskGroup(of: String.self) { group in
                for i in 0..<20 {
                    group.addTask {
                        let response = try await client.execute(HTTPRequest(method: .POST, target: "/p\(i)", body: ByteBuffer(string: "abc")), to: address).response.get()
                        return String(buffer: response.body)
                    }
                }
                var answers = Set<String>()
                for try await answer in group { answers.insert(answer) }
                #expect(answers == Set((0..<20).map { "POST /p\($0) 3" }))
            }
            #expect(echo.seen.withLockedValue { $0 }.allSatisfy { $0 })
        }
    }

    /// gRPC's status travels in trailers: after the body, or in the one header block of an answer without one.
    @Test func trailersReachTheClientAfterTheBodyOrInTheOnlyHeaderBlock() async throws {
        try await withServer { address, _, client in
            let full = try await client.execute(HTTPRequest(method: .POST, target: "/trailers"), to: address).response.get()
            #expect(String(buffer: full.body) == "message")
            #expect(full.trailers?.first(name: "grpc-status") == "0" && full.trailers?.first(name: "grpc-message") == "fine")
            #expect(full.headers.first(name: "grpc-status") == nil)
            #expect(full.headers.first(name: "content-length") == nil, "gRPC answers carry no content-length")
            let only = try await client.execute(HTTPRequest(method: .POST, target: "/trailers?empty"), to: address).response.get()
            #expect(only.body.readableBytes == 0)
            #expect(only.headers.first(name: "grpc-status") == "0" && only.trailers == nil)
        }
    }

    /// NIO's server drops a connection after 200 protocol "glitches"; a client that reset finished streams would
    /// lose its connection (and every stream on it) after about 200 requests.
    @Test func oneConnectionCarriesThousandsOfRequests() async throws {
        try await withServer { address, _, client in
            for i in 0..<600 {
                let response = try await client.execute(HTTPRequest(method: .GET, target: "/n\(i)"), to: address).response.get()
                #expect(response.status == .ok)
            }
        }
    }

    @Test func servesHTTP1OnTheSamePort() async throws {
        try await withServer { address, echo, _ in
            let (host, port) = try HostAndPort.parse(address)
            let reply = try await RawHTTP1.send("GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", host: host, port: port)
            #expect(reply.hasPrefix("HTTP/1.1 200 OK"))
            #expect(reply.hasSuffix("GET /hello 0"))
            #expect(echo.seen.withLockedValue { $0 } == [false])
        }
    }

    @Test func oversizedBodiesGet413OnBothProtocols() async throws {
        try await withServer(maxBody: 10) { address, _, client in
            let response = try await client.execute(HTTPRequest(method: .POST, target: "/big", body: ByteBuffer(repeating: 1, count: 11)), to: address).response.get()
            #expect(response.status == .payloadTooLarge)
            #expect(String(buffer: response.body).contains("over the limit of 10 bytes"))
            let (host, port) = try HostAndPort.parse(address)
            let reply = try await RawHTTP1.send("POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\n\r\n01234567890123456789", host: host, port: port)
            #expect(reply.hasPrefix("HTTP/1.1 413"))
        }
    }

    @Test func malformedHTTP1Gets400() async throws {
        try await withServer { address, _, _ in
            let (host, port) = try HostAndPort.parse(address)
            let reply = try await RawHTTP1.send("GARBAGE\r\n\r\n", host: host, port: port)
            #expect(reply.hasPrefix("HTTP/1.1 400"))
        }
    }

    /// Connections over `maxConnections` are closed as soon as they are accepted; once one closes, new ones are
    /// served again.
    @Test func connectionsOverTheLimitAreClosedAtOnce() async throws {
        try await withServer(maxConnections: 2) { address, _, _ in
            let (host, port) = try HostAndPort.parse(address)
            let idle = try await (0..<2).asyncMap { _ in
                try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: host, port: port).get()
            }
            try await Task.sleep(for: .milliseconds(100))  // both accepted and counted
            // Closed on accept: the write itself may already fail ("I/O on closed channel"), or nothing comes back.
            let refused = (try? await RawHTTP1.send("GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", host: host, port: port)) ?? ""
            #expect(refused.isEmpty, "a third connection was served: \(refused)")
            try await idle[0].close()
            try await Task.sleep(for: .milliseconds(100))
            let served = try await RawHTTP1.send("GET /y HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", host: host, port: port)
            #expect(served.hasPrefix("HTTP/1.1 200"))
            try await idle[1].close()
        }
    }

    @Test func cancellingACallResetsTheStreamAndFiresTheServersSignal() async throws {
        try await withServer { address, echo, client in
            let call = client.execute(HTTPRequest(method: .GET, target: "/slow"), to: address)
            try await Task.sleep(for: .milliseconds(200))
            call.cancel()
            await #expect(throws: HTTP2ClientError.self) { try await call.response.get() }
            for _ in 0..<50 where echo.cancelled.withLockedValue({ $0 }) == 0 { try await Task.sleep(for: .milliseconds(20)) }
            #expect(echo.cancelled.withLockedValue { $0 } == 1)
        }
    }

    @Test func refusedConnectionsFailAsRetryable() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let client = HTTP2ClientPool(group: group)
        // Port 1 on loopback: nothing listens there.
        do {
            _ = try await client.execute(HTTPRequest(method: .GET, target: "/"), to: "127.0.0.1:1").response.get()
            Issue.record("connected to port 1")
        } catch let error as HTTP2ClientError {
            #expect(error.isSafeToRetry)
        }
        client.shutdown()
        try await group.shutdownGracefully()
    }
}

/// Sends raw bytes over TCP and reads until the server closes: HTTP/1.1 exactly as written.
enum RawHTTP1 {
    static func send(_ text: String, host: String, port: Int) async throws -> String {
        let group = MultiThreadedEventLoopGroup.singleton
        let collected = NIOLockedValueBox("")
        let channel = try await ClientBootstrap(group: group).channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Collector(into: collected)) }
        }.connect(host: host, port: port).get()
        try await channel.writeAndFlush(ByteBuffer(string: text)).get()
        _ = try? await channel.closeFuture.get()
        return collected.withLockedValue { $0 }
    }

    final class Collector: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        let into: NIOLockedValueBox<String>
        init(into: NIOLockedValueBox<String>) { self.into = into }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            into.withLockedValue { $0 += String(buffer: buffer) }
        }
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var out: [T] = []
        for element in self { out.append(try await transform(element)) }
        return out
    }
}
