import NIOCore

/// Fields 1 (model name) and 2 (version) of a model-bound request message (`ModelInferRequest`,
/// `ModelReadyRequest`, `ModelMetadataRequest` all number them so), read straight from the protobuf wire format
/// without decoding the rest: the router routes gRPC calls by them and never decodes tensors.
///
/// The reader walks top-level fields only, skipping each by its wire type; every length is checked against the
/// bytes left before it is used, so a hostile message can at worst be refused. As protobuf specifies, when a
/// scalar field appears more than once the last one counts.
public struct GRPCModelFields: Sendable, Equatable {
    public var name: String
    /// Empty: the model's latest version.
    public var version: String

    public init(name: String, version: String) {
        self.name = name
        self.version = version
    }

    public struct Malformed: Error, Sendable, Equatable {
        public var message: String
    }

    public static func read(_ message: ByteBuffer) -> Result<GRPCModelFields, Malformed> {
        var reader = message
        var fields = GRPCModelFields(name: "", version: "")
        while reader.readableBytes > 0 {
            guard let key = readVarint(&reader) else { return .failure(Malformed(message: "truncated field key in the request message")) }
            let number = key >> 3
            switch key & 7 {
            case 0:
                guard readVarint(&reader) != nil else { return .failure(Malformed(message: "truncated varint of field \(number)")) }
            case 1:
                guard reader.readSlice(length: 8) != nil else { return .failure(Malformed(message: "truncated 64-bit field \(number)")) }
            case 5:
                guard reader.readSlice(length: 4) != nil else { return .failure(Malformed(message: "truncated 32-bit field \(number)")) }
            case 2:
                guard let length = readVarint(&reader), length <= UInt64(reader.readableBytes),
                      let bytes = reader.readSlice(length: Int(length)) else {
                    return .failure(Malformed(message: "field \(number) is longer than the message"))
                }
                if number == 1 || number == 2 {
                    guard let text = bytes.getString(at: bytes.readerIndex, length: bytes.readableBytes),
                          text.utf8.count == bytes.readableBytes else {
                        return .failure(Malformed(message: "field \(number) (model \(number == 1 ? "name" : "version")) is not UTF-8"))
                    }
                    if number == 1 { fields.name = text } else { fields.version = text }
                }
            default:
                return .failure(Malformed(message: "field \(number) has wire type \(key & 7), which proto3 messages do not use"))
            }
        }
        return .success(fields)
    }

    /// The framed request (gRPC prefix and message) with its version set to `version`: field 2 appended, which
    /// overrides any earlier one. What the router sends a worker after resolving the model's latest version or a
    /// label, without re-encoding the rest; one buffer, one copy of the message.
    public static func pinnedFrame(_ message: ByteBuffer, to version: String) -> ByteBuffer {
        var out = ByteBuffer()
        out.reserveCapacity(GRPCFrame.prefixBytes + message.readableBytes + version.utf8.count + 11)
        out.writeInteger(UInt8(0))
        let lengthAt = out.writerIndex
        out.writeInteger(UInt32(0), endianness: .big)
        var copy = message
        out.writeBuffer(&copy)
        writeVarint(2 << 3 | 2, to: &out)
        writeVarint(UInt64(version.utf8.count), to: &out)
        out.writeString(version)
        // The message came in a frame and grew by at most 11 + 128 bytes (versions are short numbers): it fits.
        out.setInteger(UInt32(clamping: out.writerIndex - lengthAt - 4), at: lengthAt, endianness: .big)
        return out
    }

    private static func readVarint(_ buffer: inout ByteBuffer) -> UInt64? {
        var value: UInt64 = 0
        for shift in stride(from: 0, to: 64, by: 7) {
            guard let byte = buffer.readInteger(as: UInt8.self) else { return nil }
            value |= UInt64(byte & 0x7F) << UInt64(shift)
            if byte & 0x80 == 0 { return value }
        }
        return nil  // more than 10 bytes: not a varint
    }

    private static func writeVarint(_ value: UInt64, to out: inout ByteBuffer) {
        var rest = value
        while rest >= 0x80 {
            out.writeInteger(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        out.writeInteger(UInt8(rest))
    }
}
