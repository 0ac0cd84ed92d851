/// HTTP/2 frames and HPACK by hand (literal fields, no Huffman), and a frame splitter for what the server wrote.
enum H2 {
    static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
    static let dataType: UInt8 = 0, headersType: UInt8 = 1, rstStreamType: UInt8 = 3, settingsType: UInt8 = 4
    static let goAwayType: UInt8 = 7, continuationType: UInt8 = 9

    static func frame(type: UInt8, flags: UInt8, stream: UInt32, payload: [UInt8]) -> [UInt8] {
        let length = payload.count
        return [UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF), type, flags,
                UInt8(stream >> 24 & 0x7F), UInt8(stream >> 16 & 0xFF), UInt8(stream >> 8 & 0xFF), UInt8(stream & 0xFF)] + payload
    }

    static func settings() -> [UInt8] { frame(type: settingsType, flags: 0, stream: 0, payload: []) }

    /// A literal field without indexing; lengths under 127 use one byte, longer ones the HPACK integer encoding.
    static func literal(_ name: String, _ value: String) -> [UInt8] {
        [0x00] + string(name) + string(value)
    }

    static func string(_ text: String) -> [UInt8] {
        let bytes = Array(text.utf8)
        var length = bytes.count
        guard length >= 127 else { return [UInt8(length)] + bytes }
        var out: [UInt8] = [127]
        length -= 127
        while length >= 128 {
            out.append(UInt8(length & 0x7F | 0x80))
            length >>= 7
        }
        return out + [UInt8(length)] + bytes
    }

    static func requestBlock(method: String, path: String) -> [UInt8] {
        literal(":method", method) + literal(":scheme", "http") + literal(":path", path) + literal(":authority", "test")
    }

    static func get(stream: UInt32, path: String) -> [UInt8] {
        frame(type: headersType, flags: 0x5, stream: stream, payload: requestBlock(method: "GET", path: path))
    }

    struct Frame {
        var type: UInt8
        var flags: UInt8
        var stream: UInt32
        var payload: [UInt8]
    }

    static func frames(_ bytes: [UInt8]) -> [Frame] {
        var out: [Frame] = []
        var i = 0
        while i + 9 <= bytes.count {
            let length = Int(bytes[i]) << 16 | Int(bytes[i + 1]) << 8 | Int(bytes[i + 2])
            guard i + 9 + length <= bytes.count else { break }
            let stream = UInt32(bytes[i + 5] & 0x7F) << 24 | UInt32(bytes[i + 6]) << 16 | UInt32(bytes[i + 7]) << 8 | UInt32(bytes[i + 8])
            out.append(Frame(type: bytes[i + 3], flags: bytes[i + 4], stream: stream, payload: Array(bytes[(i + 9)..<(i + 9 + length)])))
            i += 9 + length
        }
        return out
    }

    static func settingValues(_ payload: [UInt8]) -> [UInt16: UInt32] {
        var values: [UInt16: UInt32] = [:]
        var i = 0
        while i + 6 <= payload.count {
            values[UInt16(payload[i]) << 8 | UInt16(payload[i + 1])] = errorCode(Array(payload[(i + 2)..<(i + 6)]))
            i += 6
        }
        return values
    }

    /// A big-endian 32-bit value (error codes, setting values).
    static func errorCode(_ bytes: [UInt8]) -> UInt32 {
        bytes.prefix(4).reduce(0) { $0 << 8 | UInt32($1) }
    }
}
