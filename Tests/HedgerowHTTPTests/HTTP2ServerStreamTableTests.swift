import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import Testing

@testable import HedgerowHTTP

/// The HTTP/2 request table on the exact pipeline the server runs, driven with hand-made frames.
@Suite struct HTTP2ServerStreamTableTests {
    /// Echoes what it was given; `/hang` answers only when the test says so, and records its cancellation.
    final class Echo: HTTPResponder, @unchecked Sendable {
        var hanging: [EventLoopPromise<HTTPResponse>] = []
        var cancelled = 0

        func respond(to request: HTTPRequest, context: RequestContext) -> EventLoopFuture<HTTPResponse> {
            if request.path == "/hang" {
                let promise = context.eventLoop.makePromise(of: HTTPResponse.self)
                hanging.append(promise)
                context.cancellation.onCancel { self.cancelled += 1 }
                return promise.futureResult
            }
            let text = "\(request.method) \(request.target) host=\(request.headers.first(name: "host") ?? "-") "
                + "type=\(request.headers.first(name: "content-type") ?? "-") h2=\(context.isHTTP2) body=\(String(buffer: request.body))"
            return context.eventLoop.makeSucceededFuture(.text(text))
        }
    }

    final class Connection {
        let channel = EmbeddedChannel()
        let echo = Echo()

        init(maxBodyBytes: Int = 1024) throws {
            let configuration = HTTPServerConfiguration(host: "127.0.0.1", port: 0, maxBodyBytes: maxBodyBytes)
            try HTTPServer.configureConnection(channel.pipeline.syncOperations, configuration: configuration, responder: echo)
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
            send(H2.preface + H2.settings())
            send(H2.frame(type: H2.settingsType, flags: 1, stream: 0, payload: []))
            _ = output()
        }

        func send(_ bytes: [UInt8]) { _ = try? channel.writeInbound(ByteBuffer(bytes: bytes)) }

        func output() -> [H2.Frame] {
            channel.embeddedEventLoop.run()
            var bytes: [UInt8] = []
            while let part = try? channel.readOutbound(as: IOData.self) {
                if case .byteBuffer(let buffer) = part { bytes += buffer.readableBytesView }
            }
            return H2.frames(bytes)
        }

        func body(of frames: [H2.Frame], stream: UInt32) -> String {
            String(decoding: frames.filter { $0.type == H2.dataType && $0.stream == stream }.flatMap(\.payload), as: UTF8.self)
        }

        deinit {
            for promise in echo.hanging { promise.succeed(.text("late")) }
            _ = try? channel.finish()
        }
    }

    @Test func aRequestInSeveralFramesReachesTheResponderWhole() throws {
        let connection = try Connection()
        let head = H2.requestBlock(method: "POST", path: "/v1/models/m:predict") + H2.literal("content-type", "application/json")
        connection.send(H2.frame(type: H2.headersType, flags: 0x4, stream: 1, payload: head))
        connection.send(H2.frame(type: H2.dataType, flags: 0, stream: 1, payload: Array("{\"a\":".utf8)))
        #expect(connection.output().isEmpty, "nothing is answered before the request ends")
        connection.send(H2.frame(type: H2.dataType, flags: 0x1, stream: 1, payload: Array("1}".utf8)))
        let frames = connection.output()
        #expect(frames.contains { $0.type == H2.headersType && $0.stream == 1 })
        #expect(connection.body(of: frames, stream: 1) == #"POST /v1/models/m:predict host=test type=application/json h2=true body={"a":1}"#)
        #expect(((frames.last { $0.stream == 1 }?.flags ?? 0) & 0x1) == 0x1, "the answer ends the stream")
    }

    @Test func manyStreamsInOneReadAreAllAnswered() throws {
        let connection = try Connection()
        var burst: [UInt8] = []
        for id in stride(from: 1, through: 31, by: 2) as StrideThrough<UInt32> { burst += H2.get(stream: id, path: "/s\(id)") }
        connection.send(burst)
        let frames = connection.output()
        #expect(Set(frames.filter { $0.type == H2.dataType }.map(\.stream)).count == 16)
        #expect(connection.body(of: frames, stream: 31).hasPrefix("GET /s31 "))
    }

    @Test func aResetBeforeTheAnswerFiresTheCancellationAndTheLateAnswerIsDropped() throws {
        let connection = try Connection()
        connection.send(H2.get(stream: 1, path: "/hang"))
        _ = connection.output()
        connection.send(H2.frame(type: H2.rstStreamType, flags: 0, stream: 1, payload: [0, 0, 0, 8]))  // CANCEL
        _ = connection.output()
        #expect(connection.echo.cancelled == 1)
        connection.echo.hanging.first?.succeed(.text("late"))
        #expect(!connection.output().contains { $0.stream == 1 })
        #expect(connection.channel.isActive)
    }

    @Test func aBodyOverTheLimitIsAnswered413AndTheRestOfTheUploadStopped() throws {
        let connection = try Connection(maxBodyBytes: 10)
        connection.send(H2.frame(type: H2.headersType, flags: 0x4, stream: 1, payload: H2.requestBlock(method: "POST", path: "/p")))
        connection.send(H2.frame(type: H2.dataType, flags: 0, stream: 1, payload: [UInt8](repeating: 1, count: 11)))
        let frames = connection.output()
        #expect(connection.body(of: frames, stream: 1).contains("over the limit of 10 bytes"))
        let reset = try #require(frames.first { $0.type == H2.rstStreamType && $0.stream == 1 })
        #expect(H2.errorCode(reset.payload) == 0)  // NO_ERROR: stop sending, the answer is complete
        // The connection goes on serving.
        connection.send(H2.get(stream: 3, path: "/next"))
        #expect(connection.body(of: connection.output(), stream: 3).hasPrefix("GET /next "))
    }
}
