import HedgerowCore
import NIOCore

/// gRPC's length-prefixed message: a compressed flag byte, a 4-byte big-endian length, the message.
///
/// A unary call carries exactly one. Everything in the prefix is the peer's to lie about: the length is checked
/// against the bytes that came before anything is sliced, a second message or trailing bytes are refused, and a
/// compressed message is refused (Hedgerow offers no `grpc-accept-encoding`, so a conforming client never
/// compresses; one that does without naming an encoding is malformed).
public enum GRPCFrame {
    public static let prefixBytes = 5

    /// Why a request body is not one gRPC message, as the status to answer with.
    public struct Malformed: Error, Sendable, Equatable {
        public var code: GRPCStatusCode
        public var message: String
    }

    /// The one message of a unary request body. `encoding` is the request's `grpc-encoding` header.
    public static func message(in body: ByteBuffer, encoding: String?) -> Result<ByteBuffer, Malformed> {
        guard body.readableBytes >= prefixBytes,
              let flag = body.getInteger(at: body.readerIndex, as: UInt8.self),
              let length = body.getInteger(at: body.readerIndex + 1, endianness: .big, as: UInt32.self) else {
            return .failure(Malformed(code: .internalError, message: "gRPC request body of \(body.readableBytes) bytes is shorter than a message prefix (5 bytes)"))
        }
        let available = body.readableBytes - prefixBytes
        guard Int(length) <= available else {
            return .failure(Malformed(code: .internalError, message: "gRPC message prefix says \(length) bytes but the request carries \(available)"))
        }
        guard Int(length) == available else {
            return .failure(Malformed(code: .internalError, message: "a unary gRPC request carries one message; \(available - Int(length)) bytes follow it"))
        }
        switch flag {
        case 0:
            break
        case 1:
            let named = encoding.map { "'\($0)'" } ?? "none"
            return .failure(Malformed(code: .unimplemented, message: "compressed gRPC message (grpc-encoding \(named)); Hedgerow accepts uncompressed messages only (grpc-accept-encoding: identity)"))
        default:
            return .failure(Malformed(code: .internalError, message: "gRPC message flag \(flag) is neither 0 nor 1"))
        }
        guard let message = body.getSlice(at: body.readerIndex + prefixBytes, length: Int(length)) else {
            return .failure(Malformed(code: .internalError, message: "gRPC message could not be read"))
        }
        return .success(message)
    }

    /// Appends `message` with its prefix (uncompressed); false, writing nothing, for a message over 4 GiB (which
    /// gRPC's prefix cannot describe).
    @discardableResult
    public static func write(_ message: some Collection<UInt8>, to out: inout ByteBuffer) -> Bool {
        guard let length = UInt32(exactly: message.count) else { return false }
        out.reserveCapacity(out.writerIndex + prefixBytes + message.count)
        out.writeInteger(UInt8(0))
        out.writeInteger(length, endianness: .big)
        out.writeBytes(message)
        return true
    }
}
