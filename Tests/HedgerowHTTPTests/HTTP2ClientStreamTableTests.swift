import NIOCore
import NIOEmbedded
import NIOHPACK
import NIOHTTP1
import NIOHTTP2
import Testing

@testable import HedgerowHTTP

@Suite struct HTTP2ClientStreamTableTests {
    @Test func requestHeadersAreHTTP2Headers() {
        var request = HTTPRequest(method: .POST, target: "/v1/models/digits:predict", body: ByteBuffer(string: "{}"))
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Connection", value: "keep-alive")
        request.headers.add(name: "Keep-Alive", value: "timeout=5")
        request.headers.add(name: "Transfer-Encoding", value: "chunked")
        request.headers.add(name: "TE", value: "gzip")
        request.headers.add(name: "content-length", value: "999")
        request.headers.add(name: "Hedgerow-Attempt", value: "backup")
        let headers = HTTP2ClientStreamTable.requestHeaders(request, authority: "127.0.0.1:8701")
        let pairs = headers.map { "\($0.name)=\($0.value)" }
        #expect(pairs == [
            ":method=POST", ":path=/v1/models/digits:predict", ":scheme=http", ":authority=127.0.0.1:8701",
            "content-type=application/json", "hedgerow-attempt=backup", "content-length=2",
        ])
    }

    @Test func theHostHeaderBecomesTheAuthority() {
        var request = HTTPRequest(method: .GET, target: "/")
        request.headers.add(name: "Host", value: "models.example")
        request.headers.add(name: "te", value: "trailers")
        let headers = HTTP2ClientStreamTable.requestHeaders(request, authority: "127.0.0.1:1")
        #expect(headers.first(name: ":authority") == "models.example")
        #expect(!headers.contains(name: "host"))
        #expect(headers.first(name: "te") == "trailers")
    }

    /// Answers and uploads larger than a receive window (64 KiB) need the window opened again as they arrive: the
    /// multiplexer did that, the table does it now. Without it the call would wait until its timeout.
    @Test func bodiesLargerThanTheWindowFlowBothWays() async throws {
        try await HTTPServerTests().withServer(maxBody: 4 * 1024 * 1024) { address, _, client in
            let down = try await client.execute(HTTPRequest(method: .GET, target: "/bytes?count=3000000"), to: address, timeout: .seconds(10)).response.get()
            #expect(down.status == .ok)
            #expect(down.body.readableBytes == 3_000_000)
            let upload = ByteBuffer(repeating: 1, count: 2_000_000)
            let up = try await client.execute(HTTPRequest(method: .POST, target: "/up", body: upload), to: address, timeout: .seconds(10)).response.get()
            #expect(String(buffer: up.body) == "POST /up 2000000")
            // Many such answers in turn on one connection keep the connection window open too.
            for _ in 0..<5 {
                let again = try await client.execute(HTTPRequest(method: .GET, target: "/bytes?count=500000"), to: address, timeout: .seconds(10)).response.get()
                #expect(again.body.readableBytes == 500_000)
            }
        }
    }

    /// A connection whose stream ids run out retires (the pool stops using it) and refuses further calls as
    /// "not processed", which callers may retry anywhere.
    @Test func aConnectionOutOfStreamIDsRetiresAndRefusesMoreCalls() throws {
        let channel = EmbeddedChannel()
        let loop = channel.embeddedEventLoop
        var retired = 0
        let table = HTTP2ClientStreamTable(address: "peer:1", lastStreamID: 3, onRetire: { retired += 1 })
        try channel.pipeline.syncOperations.addHandler(NIOHTTP2Handler(mode: .client))
        try channel.pipeline.syncOperations.addHandler(table)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        var outcomes: [EventLoopFuture<HTTPResponse>] = []
        for _ in 0..<3 {
            let promise = loop.makePromise(of: HTTPResponse.self)
            table.send(HTTPRequest(method: .GET, target: "/"), call: CallState(promise: promise, loop: loop))
            outcomes.append(promise.futureResult)
        }
        #expect(retired == 1)
        loop.run()
        #expect(throws: HTTP2ClientError.streamRefused(address: "peer:1", reason: "the connection has used all its stream ids")) {
            try outcomes[2].wait()
        }
        _ = try? channel.finish()
    }

    /// A call that reaches a connection after it closed was never sent: it must fail as "not processed" (free to
    /// retry anywhere), not as a connection lost while holding it (which counts towards a query of death).
    @Test func aCallAfterTheConnectionClosedFailsAsNotSent() throws {
        let channel = EmbeddedChannel()
        let loop = channel.embeddedEventLoop
        let table = HTTP2ClientStreamTable(address: "peer:1", onRetire: {})
        try channel.pipeline.syncOperations.addHandler(NIOHTTP2Handler(mode: .client))
        try channel.pipeline.syncOperations.addHandler(table)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        let before = loop.makePromise(of: HTTPResponse.self)
        table.send(HTTPRequest(method: .GET, target: "/"), call: CallState(promise: before, loop: loop))
        try channel.close().wait()
        loop.run()
        #expect(throws: HTTP2ClientError.connectionLost(address: "peer:1")) { try before.futureResult.wait() }
        let after = loop.makePromise(of: HTTPResponse.self)
        table.send(HTTPRequest(method: .GET, target: "/"), call: CallState(promise: after, loop: loop))
        loop.run()
        #expect {
            try after.futureResult.wait()
        } throws: { error in
            (error as? HTTP2ClientError).map { !$0.mayHaveReachedPeer && $0.isSafeToRetry } ?? false
        }
    }
}
