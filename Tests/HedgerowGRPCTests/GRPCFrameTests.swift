import HedgerowGRPC
import NIOCore
import Testing

@Suite struct GRPCFrameTests {
    private func framed(_ bytes: [UInt8], flag: UInt8 = 0, length: UInt32? = nil) -> ByteBuffer {
        var out = ByteBuffer()
        out.writeInteger(flag)
        out.writeInteger(length ?? UInt32(bytes.count), endianness: .big)
        out.writeBytes(bytes)
        return out
    }

    @Test func oneMessageIsReadBack() throws {
        var out = ByteBuffer()
        #expect(GRPCFrame.write([1, 2, 3], to: &out))
        let message = try GRPCFrame.message(in: out, encoding: nil).get()
        #expect(Array(message.readableBytesView) == [1, 2, 3])
        #expect(try GRPCFrame.message(in: framed([]), encoding: nil).get().readableBytes == 0)
    }

    @Test func aLengthPastTheBodyIsRefused() {
        guard case .failure(let error) = GRPCFrame.message(in: framed([1, 2], length: 1000), encoding: nil) else {
            Issue.record("a prefix claiming 1000 bytes of 2 was accepted")
            return
        }
        #expect(error.code == .internalError)
        #expect(error.message.contains("1000"))
    }

    @Test func shortBodiesAndTrailingBytesAreRefused() {
        for body in [ByteBuffer(bytes: [0, 0, 0]), ByteBuffer(), framed([1, 2, 3], length: 2)] {
            guard case .failure = GRPCFrame.message(in: body, encoding: nil) else {
                Issue.record("accepted \(Array(body.readableBytesView))")
                continue
            }
        }
    }

    @Test func aCompressedMessageIsUnimplementedNamingTheEncoding() {
        guard case .failure(let error) = GRPCFrame.message(in: framed([1], flag: 1), encoding: nil) else {
            Issue.record("a compressed message without grpc-encoding was accepted")
            return
        }
        #expect(error.code == .unimplemented)
        #expect(error.message.contains("none"))
        guard case .failure(let other) = GRPCFrame.message(in: framed([1], flag: 7), encoding: nil) else {
            Issue.record("flag 7 was accepted")
            return
        }
        #expect(other.code == .internalError)
    }
}
