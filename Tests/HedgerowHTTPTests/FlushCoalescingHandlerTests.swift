import NIOCore
import NIOEmbedded
import Testing

@testable import HedgerowHTTP

@Suite struct FlushCoalescingHandlerTests {
    @Test func flushesOfOneTurnLeaveInOneFlushAfterTheTurn() throws {
        let channel = EmbeddedChannel(handler: FlushCoalescingHandler())
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        for part in ["a", "b", "c"] {
            channel.write(ByteBuffer(string: part), promise: nil)
            channel.flush()
        }
        // Nothing reached the socket during the turn.
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil)
        channel.embeddedEventLoop.run()
        var written: [String] = []
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { written.append(String(buffer: buffer)) }
        #expect(written == ["a", "b", "c"])
        _ = try channel.finish()
    }

    @Test func aFlushInALaterTurnIsScheduledAgain() throws {
        let channel = EmbeddedChannel(handler: FlushCoalescingHandler())
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        channel.writeAndFlush(ByteBuffer(string: "first"), promise: nil)
        channel.embeddedEventLoop.run()
        #expect(try channel.readOutbound(as: ByteBuffer.self).map { String(buffer: $0) } == "first")
        channel.writeAndFlush(ByteBuffer(string: "second"), promise: nil)
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil)
        channel.embeddedEventLoop.run()
        #expect(try channel.readOutbound(as: ByteBuffer.self).map { String(buffer: $0) } == "second")
        _ = try channel.finish()
    }
}

extension FlushCoalescingHandlerTests {
    @Test func aCloseFlushesWhatWasWrittenBeforeIt() throws {
        let channel = EmbeddedChannel(handler: FlushCoalescingHandler())
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        channel.writeAndFlush(ByteBuffer(string: "answer"), promise: nil)
        channel.close(promise: nil)
        #expect(try channel.readOutbound(as: ByteBuffer.self).map { String(buffer: $0) } == "answer")
        channel.embeddedEventLoop.run()
    }
}
