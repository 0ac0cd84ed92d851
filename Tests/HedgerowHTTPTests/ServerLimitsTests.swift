@testable import HedgerowHTTP
import HedgerowCore
import NIOCore
import NIOEmbedded
import NIOHTTP1
import NIOTLS
import Testing

/// Each server limit on the exact pipeline the server runs (`HTTPServer.configureConnection`), driven byte by
/// byte on an `EmbeddedChannel` with virtual time: hostile bytes in, the answer (or the close) out.
@Suite struct ServerLimitsTests {
    /// Answers at once, or never for `/hang` (kept to be completed when the test ends: a leaked promise traps).
    final class Responder: HTTPResponder, @unchecked Sendable {
        var hanging: [EventLoopPromise<HTTPResponse>] = []

        func respond(to request: HTTPRequest, context: RequestContext) -> EventLoopFuture<HTTPResponse> {
            if request.path == "/hang" {
                let promise = context.eventLoop.makePromise(of: HTTPResponse.self)
                hanging.append(promise)
                return promise.futureResult
            }
            return context.eventLoop.makeSucceededFuture(.text("got \(request.body.readableBytes)"))
        }

        func finish() { for promise in hanging { promise.succeed(.text("late")) } }
    }

    /// One accepted connection of a server with `configuration`.
    final class Connection {
        let channel = EmbeddedChannel()
        let responder = Responder()

        init(_ configuration: HTTPServerConfiguration) throws {
            try HTTPServer.configureConnection(channel.pipeline.syncOperations, configuration: configuration, responder: responder)
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        }

        /// Feeds bytes as one read. Errors the pipeline reports to its end (h2 connection errors after GOAWAY)
        /// are expected here: what the server wrote and whether it closed are what the tests check.
        func send(_ bytes: [UInt8]) {
            guard channel.isActive else { return }
            _ = try? channel.writeInbound(ByteBuffer(bytes: bytes))
        }

        func send(_ text: String) { send(Array(text.utf8)) }

        /// Everything the server wrote since the last call. Runs the loop's tasks first: the server flushes an
        /// HTTP/2 connection once per event-loop turn (FlushCoalescingHandler).
        func output() -> [UInt8] {
            channel.embeddedEventLoop.run()
            var bytes: [UInt8] = []
            while let part = try? channel.readOutbound(as: IOData.self) {
                if case .byteBuffer(let buffer) = part { bytes += buffer.readableBytesView }
            }
            return bytes
        }

        func outputText() -> String { String(decoding: output(), as: UTF8.self) }

        var isOpen: Bool { channel.isActive }

        /// Preface and SETTINGS, and the ACK of the server's SETTINGS (swift-nio-http2 applies its own settings,
        /// such as the header list size, only once the client acknowledged them).
        func h2Handshake() {
            send(H2.preface + H2.settings())
            _ = output()
            send(H2.frame(type: H2.settingsType, flags: 1, stream: 0, payload: []))
            _ = output()
        }

        func advance(_ time: TimeAmount) { channel.embeddedEventLoop.advanceTime(by: time) }

        deinit {
            responder.finish()
            _ = try? channel.finish()
        }
    }

    static func configuration(_ change: (inout HTTPServerConfiguration) -> Void = { _ in }) -> HTTPServerConfiguration {
        var configuration = HTTPServerConfiguration(host: "127.0.0.1", port: 0)
        change(&configuration)
        return configuration
    }

    // MARK: HTTP/1.1

    @Test func http1HeaderListOverTheLimitGets431AndClose() throws {
        let connection = try Connection(Self.configuration { $0.maxHeaderListBytes = 1024 })
        connection.send("GET / HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "a", count: 2000))\r\n\r\n")
        let answer = connection.outputText()
        #expect(answer.hasPrefix("HTTP/1.1 431"), "\(answer)")
        #expect(answer.contains("too large or too many"))
        #expect(!connection.isOpen)
    }

    @Test func http1HeadersUnderTheLimitAreServed() throws {
        let connection = try Connection(Self.configuration { $0.maxHeaderListBytes = 1024 })
        connection.send("GET / HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "a", count: 900))\r\n\r\n")
        #expect(connection.outputText().hasPrefix("HTTP/1.1 200"))
        #expect(connection.isOpen)
    }

    @Test func http1TooManyHeaderFieldsGets431() throws {
        let connection = try Connection(Self.configuration { $0.maxHeaderFields = 10 })
        let fields = (0..<11).map { "X-\($0): v\r\n" }.joined()
        connection.send("GET / HTTP/1.1\r\n\(fields)\r\n")
        #expect(connection.outputText().hasPrefix("HTTP/1.1 431"))
        #expect(!connection.isOpen)
    }

    @Test func http1ChunkedBodyOverTheLimitGets413WithoutContentLength() throws {
        let connection = try Connection(Self.configuration { $0.maxBodyBytes = 100 })
        connection.send("POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in 0..<3 { connection.send("32\r\n\(String(repeating: "b", count: 50))\r\n") }  // 150 bytes
        let answer = connection.outputText()
        #expect(answer.hasPrefix("HTTP/1.1 413"), "\(answer)")
        #expect(answer.contains("over the limit of 100 bytes"))
        #expect(!connection.isOpen)
    }

    @Test func http1ChunkedBodyUnderTheLimitIsServed() throws {
        let connection = try Connection(Self.configuration { $0.maxBodyBytes = 100 })
        connection.send("POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n32\r\n\(String(repeating: "b", count: 50))\r\n0\r\n\r\n")
        let answer = connection.outputText()
        #expect(answer.hasPrefix("HTTP/1.1 200"), "\(answer)")
        #expect(answer.hasSuffix("got 50"))
    }

    @Test func http1HeadTrickledByteByByteIsClosedAtTheHeadDeadline() throws {
        let connection = try Connection(Self.configuration { $0.requestHeadTimeout = .seconds(10); $0.idleTimeout = .seconds(60) })
        connection.send("G")  // the protocol is chosen: HTTP/1.1
        for byte in "ET / HTTP/1.1\r\nHost".utf8 {
            connection.send([byte])
            connection.advance(.milliseconds(400))
        }
        #expect(connection.isOpen)  // 7.6 s in, every 400 ms a byte
        connection.advance(.seconds(3))
        #expect(!connection.isOpen)
        #expect(connection.output().isEmpty)
    }

    @Test func http1KeepAliveConnectionGetsTheIdleTimeoutNotTheHeadTimeout() throws {
        let connection = try Connection(Self.configuration { $0.requestHeadTimeout = .seconds(10); $0.idleTimeout = .seconds(60) })
        connection.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(connection.outputText().hasPrefix("HTTP/1.1 200"))
        connection.advance(.seconds(30))
        #expect(connection.isOpen)
        // A second request restarts the clock.
        connection.send("GET /b HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(connection.outputText().hasPrefix("HTTP/1.1 200"))
        connection.advance(.seconds(59))
        #expect(connection.isOpen)
        connection.advance(.seconds(2))
        #expect(!connection.isOpen)
    }

    @Test func http1HeadStartedAfterAnAnswerGetsTheHeadTimeout() throws {
        let connection = try Connection(Self.configuration { $0.requestHeadTimeout = .seconds(10); $0.idleTimeout = .seconds(60) })
        connection.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
        _ = connection.output()
        connection.advance(.seconds(5))
        connection.send("GET /slow")  // the next head starts and stalls
        connection.advance(.seconds(9))
        #expect(connection.isOpen)
        connection.advance(.seconds(2))
        #expect(!connection.isOpen)
    }

    @Test func http1SlowAnswerIsNotCutByTheTimeouts() throws {
        let connection = try Connection(Self.configuration { $0.requestHeadTimeout = .seconds(10); $0.idleTimeout = .seconds(60) })
        connection.send("GET /hang HTTP/1.1\r\nHost: x\r\n\r\n")
        connection.advance(.seconds(300))
        #expect(connection.isOpen)
        connection.responder.finish()
        connection.channel.embeddedEventLoop.run()
        #expect(connection.outputText().hasPrefix("HTTP/1.1 200"))
    }

    @Test func http1BodyThatStopsArrivingIsClosedAtTheIdleTimeout() throws {
        let connection = try Connection(Self.configuration { $0.idleTimeout = .seconds(60) })
        connection.send("POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
        connection.advance(.seconds(59))
        #expect(connection.isOpen)
        connection.advance(.seconds(2))
        #expect(!connection.isOpen)
    }

    // MARK: Protocol choice

    @Test func aConnectionThatSendsNothingIsClosedAtTheHeadDeadline() throws {
        let connection = try Connection(Self.configuration { $0.requestHeadTimeout = .seconds(10) })
        connection.advance(.seconds(9))
        #expect(connection.isOpen)
        connection.advance(.seconds(2))
        #expect(!connection.isOpen)
    }

    @Test func aTrickledPrefaceIsClosedAtTheHeadDeadline() throws {
        let connection = try Connection(Self.configuration { $0.requestHeadTimeout = .seconds(10) })
        for byte in H2.preface.prefix(20) {
            connection.send([byte])
            connection.advance(.milliseconds(500))
        }
        #expect(!connection.isOpen)
    }

    @Test func aTLSHandshakeThatStallsIsClosedAtTheHeadDeadline() throws {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(TLSHandshakeDeadlineHandler(timeout: .seconds(10)))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        channel.embeddedEventLoop.advanceTime(by: .seconds(9))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        #expect(!channel.isActive)
    }

    /// Records the user events that pass (the ALPN handler sits here in the server and needs the handshake event).
    final class EventRecorder: ChannelInboundHandler {
        typealias InboundIn = NIOAny
        var events: [Any] = []
        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            events.append(event)
            context.fireUserInboundEventTriggered(event)
        }
    }

    @Test func aCompletedTLSHandshakeEndsTheHandshakeDeadlineAndIsPassedOn() throws {
        let channel = EmbeddedChannel()
        let recorder = EventRecorder()
        try channel.pipeline.syncOperations.addHandlers(TLSHandshakeDeadlineHandler(timeout: .seconds(10)), recorder)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        channel.pipeline.fireUserInboundEventTriggered(TLSUserEvent.handshakeCompleted(negotiatedProtocol: "h2"))
        #expect(recorder.events.contains { ($0 as? TLSUserEvent) == .handshakeCompleted(negotiatedProtocol: "h2") })
        channel.embeddedEventLoop.advanceTime(by: .seconds(60))
        #expect(channel.isActive)
        #expect(throws: ChannelPipelineError.self) { try channel.pipeline.syncOperations.context(handlerType: TLSHandshakeDeadlineHandler.self) }
        _ = try? channel.finish()
    }

    // MARK: HTTP/2

    @Test func http2AdvertisesTheConfiguredLimits() throws {
        let connection = try Connection(Self.configuration {
            $0.maxConcurrentStreams = 7
            $0.maxHeaderListBytes = 5000
            $0.headerTableBytes = 1024
        })
        connection.send(H2.preface + H2.settings())
        let frames = H2.frames(connection.output())
        let settings = try #require(frames.first { $0.type == H2.settingsType && $0.flags & 1 == 0 })
        let values = H2.settingValues(settings.payload)
        #expect(values[0x3] == 7)  // MAX_CONCURRENT_STREAMS
        #expect(values[0x6] == 5000)  // MAX_HEADER_LIST_SIZE
        #expect(values[0x1] == 1024)  // HEADER_TABLE_SIZE
        #expect(values[0x2] == 0)  // ENABLE_PUSH
    }

    /// With its SETTINGS acknowledged, swift-nio-http2 treats a stream over SETTINGS_MAX_CONCURRENT_STREAMS as a
    /// connection error: GOAWAY PROTOCOL_ERROR, and the extra request is never dispatched.
    @Test func http2StreamsOverTheConcurrencyLimitEndTheConnection() throws {
        let connection = try Connection(Self.configuration { $0.maxConcurrentStreams = 2 })
        connection.h2Handshake()
        for id in [1, 3] as [UInt32] { connection.send(H2.get(stream: id, path: "/hang")) }
        #expect(H2.frames(connection.output()).isEmpty)
        connection.send(H2.get(stream: 5, path: "/hang"))
        let frames = H2.frames(connection.output())
        let goAway = try #require(frames.first { $0.type == H2.goAwayType }, "\(frames.map(\.type))")
        #expect(H2.errorCode(Array(goAway.payload.dropFirst(4))) == 1)  // PROTOCOL_ERROR
        #expect(connection.responder.hanging.count == 2)
    }

    /// A client that never acknowledges the server's SETTINGS is not bound by SETTINGS_MAX_CONCURRENT_STREAMS in
    /// swift-nio-http2; the server resets its streams over the limit itself.
    @Test func http2StreamsOverTheLimitAreResetEvenWithoutASettingsAck() throws {
        let connection = try Connection(Self.configuration { $0.maxConcurrentStreams = 2 })
        connection.send(H2.preface + H2.settings())
        _ = connection.output()
        for id in stride(from: 1, to: 40, by: 2) as StrideTo<UInt32> { connection.send(H2.get(stream: id, path: "/hang")) }
        let resets = H2.frames(connection.output()).filter { $0.type == H2.rstStreamType }
        #expect(resets.count == 18, "\(resets.map(\.stream))")
        #expect(!resets.contains { $0.stream <= 3 })
        #expect(connection.responder.hanging.count == 2)
        #expect(connection.isOpen)
    }

    /// A stream whose first HEADERS swift-nio-http2 refuses (a stream error: an upper-case field name) was never
    /// counted, so its close must not make room for one more stream than the limit.
    @Test func aMalformedStreamDoesNotMakeRoomOverTheLimit() throws {
        let connection = try Connection(Self.configuration { $0.maxConcurrentStreams = 2 })
        connection.send(H2.preface + H2.settings())
        _ = connection.output()
        connection.send(H2.get(stream: 1, path: "/hang"))
        let malformed = H2.requestBlock(method: "GET", path: "/hang") + H2.literal("X-Upper", "v")
        connection.send(H2.frame(type: H2.headersType, flags: 0x5, stream: 3, payload: malformed))
        connection.send(H2.get(stream: 5, path: "/hang"))
        connection.send(H2.get(stream: 7, path: "/hang"))
        let resets = H2.frames(connection.output()).filter { $0.type == H2.rstStreamType }.map(\.stream)
        #expect(resets.contains(3), "the malformed stream is reset")
        #expect(resets.contains(7), "streams 1 and 5 are open: 7 is over the limit of 2 (\(resets))")
        #expect(connection.responder.hanging.count == 2)
    }

    @Test func http2BodyOverTheLimitGets413WithoutContentLength() throws {
        let connection = try Connection(Self.configuration { $0.maxBodyBytes = 100 })
        connection.h2Handshake()
        connection.send(H2.frame(type: H2.headersType, flags: 0x4, stream: 1, payload: H2.requestBlock(method: "POST", path: "/p")))
        for _ in 0..<3 { connection.send(H2.frame(type: H2.dataType, flags: 0, stream: 1, payload: [UInt8](repeating: 7, count: 50))) }
        let frames = H2.frames(connection.output())
        let body = frames.filter { $0.type == H2.dataType && $0.stream == 1 }.flatMap(\.payload)
        #expect(String(decoding: body, as: UTF8.self).contains("over the limit of 100 bytes"), "\(frames.map(\.type))")
        #expect(connection.isOpen)  // only the stream is done; the connection serves others
    }

    @Test func http2RapidResetEndsWithGoAwayEnhanceYourCalm() throws {
        let connection = try Connection(Self.configuration { $0.maxResetStreamsPerWindow = 10; $0.resetStreamWindow = .seconds(10) })
        connection.h2Handshake()
        var burst: [UInt8] = []
        for i in 0..<20 {
            let id = UInt32(2 * i + 1)
            burst += H2.frame(type: H2.headersType, flags: 0x4, stream: id, payload: H2.requestBlock(method: "POST", path: "/p"))
            burst += H2.frame(type: H2.rstStreamType, flags: 0, stream: id, payload: [0, 0, 0, 8])
        }
        connection.send(burst)
        let goAway = try #require(H2.frames(connection.output()).first { $0.type == H2.goAwayType })
        #expect(H2.errorCode(Array(goAway.payload.dropFirst(4))) == 11)  // ENHANCE_YOUR_CALM
    }

    @Test func http2ContinuationFloodEndsTheConnection() throws {
        let connection = try Connection(Self.configuration())
        connection.h2Handshake()
        connection.send(H2.frame(type: H2.headersType, flags: 0, stream: 1, payload: H2.requestBlock(method: "GET", path: "/")))
        for _ in 0..<20 { connection.send(H2.frame(type: H2.continuationType, flags: 0, stream: 1, payload: H2.literal("x", "y"))) }
        let frames = H2.frames(connection.output())
        #expect(frames.contains { $0.type == H2.goAwayType }, "\(frames.map(\.type))")
        #expect(!frames.contains { $0.type == H2.headersType })
    }

    @Test func http2HeaderListOverTheLimitIsNotServed() throws {
        let connection = try Connection(Self.configuration { $0.maxHeaderListBytes = 1024 })
        connection.h2Handshake()
        let block = H2.requestBlock(method: "GET", path: "/") + H2.literal("x-big", String(repeating: "a", count: 2000))
        connection.send(H2.frame(type: H2.headersType, flags: 0x5, stream: 1, payload: block))
        let frames = H2.frames(connection.output())
        #expect(!frames.contains { $0.type == H2.headersType }, "served a header list over the limit")
        #expect(frames.contains { $0.type == H2.goAwayType || $0.type == H2.rstStreamType })
    }

    @Test func http2IdleConnectionGetsGoAwayThenClose() throws {
        let connection = try Connection(Self.configuration { $0.idleTimeout = .seconds(60) })
        connection.send(H2.preface + H2.settings())
        connection.send(H2.get(stream: 1, path: "/a"))
        #expect(H2.frames(connection.output()).contains { $0.type == H2.headersType && $0.stream == 1 })
        connection.advance(.seconds(59))
        #expect(connection.isOpen)
        connection.advance(.seconds(2))
        let goAway = try #require(H2.frames(connection.output()).first { $0.type == H2.goAwayType })
        #expect(Array(goAway.payload.prefix(4)) == [0, 0, 0, 1])  // last stream seen
        #expect(H2.errorCode(Array(goAway.payload.dropFirst(4))) == 0)  // NO_ERROR
        #expect(!connection.isOpen)
    }

    @Test func http2ConnectionThatOpensNoStreamIsClosedAtTheHeadDeadline() throws {
        let connection = try Connection(Self.configuration { $0.requestHeadTimeout = .seconds(10); $0.idleTimeout = .seconds(60) })
        connection.h2Handshake()
        // Its first HEADERS frame trickles in, never complete.
        let headers = H2.frame(type: H2.headersType, flags: 0x5, stream: 1, payload: H2.requestBlock(method: "GET", path: "/"))
        for byte in headers.prefix(18) {
            connection.send([byte])
            connection.advance(.milliseconds(500))
        }
        #expect(connection.isOpen)  // 9 s
        connection.advance(.seconds(2))
        let goAway = try #require(H2.frames(connection.output()).first { $0.type == H2.goAwayType })
        #expect(Array(goAway.payload.prefix(8)) == [0, 0, 0, 0, 0, 0, 0, 0])  // no stream taken, NO_ERROR
        #expect(!connection.isOpen)
    }

    @Test func http2ConnectionWithAStreamWaitingForItsAnswerStaysOpen() throws {
        let connection = try Connection(Self.configuration { $0.idleTimeout = .seconds(60) })
        connection.send(H2.preface + H2.settings())
        connection.send(H2.get(stream: 1, path: "/hang"))
        connection.advance(.seconds(600))
        #expect(connection.isOpen)
        connection.responder.finish()
        connection.channel.embeddedEventLoop.run()
        #expect(H2.frames(connection.output()).contains { $0.type == H2.headersType && $0.stream == 1 })
        connection.advance(.seconds(61))
        #expect(!connection.isOpen)
    }

    /// swift-nio-http2's own client keeps opening streams on a connection after it sent GOAWAY for a connection
    /// error, and drops every answer: the server closes such a connection once its streams are done, so a pool
    /// that keeps using it gets a closed connection (and opens a fresh one) instead of waiting forever.
    @Test func http2ConnectionClosesOnceQuietAfterTheClientsGoAway() throws {
        let connection = try Connection(Self.configuration())
        connection.h2Handshake()
        connection.send(H2.get(stream: 1, path: "/hang"))
        connection.send(H2.frame(type: H2.goAwayType, flags: 0, stream: 0, payload: [0x7F, 0xFF, 0xFF, 0xFF, 0, 0, 0, 5]))
        #expect(connection.isOpen)  // stream 1 still waits for its answer
        connection.responder.finish()
        connection.channel.embeddedEventLoop.run()
        let frames = H2.frames(connection.output())
        #expect(frames.contains { $0.type == H2.headersType && $0.stream == 1 }, "the open stream was answered first")
        #expect(frames.last?.type == H2.goAwayType)
        #expect(!connection.isOpen)
    }

    @Test func http2ConnectionClosesAfterAProtocolError() throws {
        let connection = try Connection(Self.configuration())
        connection.h2Handshake()
        connection.send(H2.frame(type: H2.dataType, flags: 0, stream: 0, payload: [1, 2, 3]))  // DATA on stream 0
        let goAway = try #require(H2.frames(connection.output()).first { $0.type == H2.goAwayType })
        #expect(H2.errorCode(Array(goAway.payload.dropFirst(4))) == 1)  // PROTOCOL_ERROR, from swift-nio-http2
        #expect(!connection.isOpen)
    }

    // MARK: Connections

    @Test func connectionsOverTheLimitAreRefusedUntilOneCloses() throws {
        let counter = ConnectionCounter(limit: 2, logger: .init(label: "test"))
        let channels = (0..<3).map { _ in EmbeddedChannel() }
        #expect(counter.open(channels[0]))
        #expect(counter.open(channels[1]))
        #expect(!counter.open(channels[2]))
        #expect(counter.openConnections == 2)
        try channels[0].close().wait()
        channels[0].embeddedEventLoop.run()
        #expect(counter.openConnections == 1)
        #expect(counter.open(channels[2]))
        for channel in channels { _ = try? channel.finish() }
    }

    @Test func theConnectionLimitNeverExceedsTheOpenFileLimit() {
        #expect(HTTPServer.clampedToFileLimit(Int.max) < Int.max)
        #expect(HTTPServer.clampedToFileLimit(3) == 3)
    }

    @Test func impossibleLimitsAreRefusedWithTheFieldNamed() {
        #expect(throws: HTTPServerError.self) { try Self.configuration { $0.maxConcurrentStreams = 0 }.validate() }
        do {
            try Self.configuration { $0.idleTimeout = .zero }.validate()
            Issue.record("a zero idle timeout was accepted")
        } catch {
            #expect("\(error)".contains("idleTimeout"))
        }
    }
}
