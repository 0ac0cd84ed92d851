/// Reads a request body into a `JSONNode` (RFC 8259), one pass over the bytes.
///
/// Why not Foundation's JSONSerialization: it boxes every number in an NSNumber and hands back `Any`, and the
/// dynamic casts that follow cost more than the inference of a small model (45 % of a digits worker's CPU in its
/// profile). Here a list of numbers is read straight into a `[Double]`.
///
/// Every byte is hostile: nesting is bounded by `maxDepth` (iteration would not help: each level holds a value),
/// strings must be valid UTF-8 without raw control characters, numbers follow the JSON grammar exactly (no NaN,
/// Infinity, leading `+`, hex or leading zeros), and nothing may follow the value but whitespace. Sizes allocated
/// are those of what was read, never of a count the input states.
public struct JSONReader {
    /// Deeper than this is refused (as Foundation does); a worker's inputs have at most `RequestShape.maxRank` levels anyway.
    public static let maxDepth = 512

    public struct Failure: Error {
        public var message: String
    }

    private let bytes: UnsafeRawBufferPointer
    private var index = 0

    private init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    /// The value `bytes` hold, or why they are not JSON ("unexpected 'x' at byte 12").
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(Failure) -> JSONNode {
        var reader = JSONReader(bytes)
        reader.skipWhitespace()
        let value = try reader.value(depth: 0)
        reader.skipWhitespace()
        guard reader.index == bytes.count else { throw reader.unexpected("after the value") }
        return value
    }

    // MARK: values

    private mutating func value(depth: Int) throws(Failure) -> JSONNode {
        guard index < bytes.count else { throw Failure(message: "unexpected end of input") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try object(depth: depth + 1)
        case UInt8(ascii: "["): return try array(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        default: throw unexpected("where a value should start")
        }
    }

    private mutating func object(depth: Int) throws(Failure) -> JSONNode {
        guard depth <= Self.maxDepth else { throw Failure(message: "JSON nested deeper than \(Self.maxDepth) levels") }
        index += 1  // {
        var members: [(key: String, value: JSONNode)] = []
        skipWhitespace()
        if peek == UInt8(ascii: "}") {
            index += 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            guard peek == UInt8(ascii: "\"") else { throw unexpected("where an object key should start") }
            let key = try string()
            skipWhitespace()
            guard peek == UInt8(ascii: ":") else { throw unexpected("where ':' should follow an object key") }
            index += 1
            skipWhitespace()
            members.append((key, try value(depth: depth)))
            skipWhitespace()
            switch peek {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "}"): index += 1; return .object(members)
            default: throw unexpected("where ',' or '}' should follow an object member")
            }
        }
    }

    /// Lists start out as `numbers` and turn into `array` at their first element that is not a number.
    private mutating func array(depth: Int) throws(Failure) -> JSONNode {
        guard depth <= Self.maxDepth else { throw Failure(message: "JSON nested deeper than \(Self.maxDepth) levels") }
        index += 1  // [
        var numbers: [Double] = []
        var nodes: [JSONNode] = []
        var onlyNumbers = true
        skipWhitespace()
        if peek == UInt8(ascii: "]") {
            index += 1
            return .numbers(numbers)
        }
        while true {
            skipWhitespace()
            if onlyNumbers, let byte = peek, byte == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
                numbers.append(try number())
            } else {
                if onlyNumbers {
                    onlyNumbers = false
                    nodes = numbers.map { .number($0) }
                    numbers = []
                }
                nodes.append(try value(depth: depth))
            }
            skipWhitespace()
            switch peek {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "]"): index += 1; return onlyNumbers ? .numbers(numbers) : .array(nodes)
            default: throw unexpected("where ',' or ']' should follow a list element")
            }
        }
    }

    private mutating func literal(_ word: StaticString) throws(Failure) {
        let count = word.utf8CodeUnitCount
        guard bytes.count - index >= count,
              (0..<count).allSatisfy({ bytes[index + $0] == word.utf8Start[$0] }) else { throw unexpected("where a value should start") }
        index += count
    }

    // MARK: numbers

    /// Exact powers of ten a Double holds: with a mantissa under 2^53, one multiplication or division by one of
    /// them is correctly rounded (Clinger's fast path), which covers nearly every number a tensor request holds.
    private static let exactPowersOfTen: [Double] = (0...22).map { (0..<$0).reduce(1.0) { product, _ in product * 10 } }

    private mutating func number() throws(Failure) -> Double {
        let start = index
        var negative = false
        if peek == UInt8(ascii: "-") {
            negative = true
            index += 1
        }
        var mantissa: UInt64 = 0
        var significantDigits = 0
        var exponent = 0
        var exact = true
        func digit(_ byte: UInt8?) -> UInt64? {
            guard let byte, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            return UInt64(byte - UInt8(ascii: "0"))
        }
        // Integer part: 0, or a digit 1-9 and more digits.
        guard let first = digit(peek) else { throw unexpected("in a number (a digit should follow)") }
        index += 1
        mantissa = first
        significantDigits = first == 0 ? 0 : 1
        if first != 0 {
            while let d = digit(peek) {
                index += 1
                if significantDigits < 19 {
                    mantissa = mantissa * 10 + d
                    significantDigits += 1
                } else {
                    exponent += 1
                    exact = false
                }
            }
        } else if digit(peek) != nil {
            throw unexpected("in a number (no leading zeros)")
        }
        if peek == UInt8(ascii: ".") {
            index += 1
            guard digit(peek) != nil else { throw unexpected("in a number (a digit should follow '.')") }
            while let d = digit(peek) {
                index += 1
                if mantissa == 0 && d == 0 {
                    exponent -= 1  // leading zeros of a fraction: not significant
                } else if significantDigits < 19 {
                    mantissa = mantissa * 10 + d
                    significantDigits += 1
                    exponent -= 1
                } else {
                    exact = false
                }
            }
        }
        if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            index += 1
            var exponentNegative = false
            if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") {
                exponentNegative = peek == UInt8(ascii: "-")
                index += 1
            }
            guard digit(peek) != nil else { throw unexpected("in a number (a digit should follow the exponent)") }
            var stated = 0
            while let d = digit(peek) {
                index += 1
                stated = min(stated * 10 + Int(d), 100_000)  // far past any Double; bounded so it cannot overflow
            }
            exponent += exponentNegative ? -stated : stated
        }
        if exact && mantissa < (1 << 53) && abs(exponent) <= 22 {
            let magnitude = Double(mantissa)
            let value = exponent >= 0 ? magnitude * Self.exactPowersOfTen[exponent] : magnitude / Self.exactPowersOfTen[-exponent]
            return negative ? -value : value
        }
        // Everything else (rare in requests) through the standard library's correctly rounded conversion, on the
        // span just checked against the JSON grammar. Out of range gives ±infinity, which the tensor checks refuse.
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        guard let value = Double(text) else { throw Failure(message: "number \(text) at byte \(start) cannot be read") }
        return value
    }

    // MARK: strings

    private mutating func string() throws(Failure) -> String {
        index += 1  // opening quote
        let start = index
        // The common case: no escapes. Find the closing quote, refusing raw control characters on the way.
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let text = try validated(UnsafeRawBufferPointer(rebasing: bytes[start..<index]), at: start)
                index += 1
                return text
            }
            if byte == UInt8(ascii: "\\") { break }
            guard byte >= 0x20 else { throw unexpected("in a string (control characters must be escaped)") }
            index += 1
        }
        var scalars = Array(UnsafeRawBufferPointer(rebasing: bytes[start..<index]))
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                guard let text = String(validating: scalars, as: UTF8.self) else {
                    throw Failure(message: "string at byte \(start - 1) is not valid UTF-8")
                }
                return text
            case UInt8(ascii: "\\"):
                try escape(into: &scalars)
            case ..<0x20:
                index -= 1
                throw unexpected("in a string (control characters must be escaped)")
            default:
                scalars.append(byte)
            }
        }
        throw Failure(message: "unterminated string starting at byte \(start - 1)")
    }

    private func validated(_ utf8: UnsafeRawBufferPointer, at start: Int) throws(Failure) -> String {
        guard let text = String(validating: utf8, as: UTF8.self) else {
            throw Failure(message: "string at byte \(start - 1) is not valid UTF-8")
        }
        return text
    }

    /// One escape after the backslash, appended as UTF-8. `\u` escapes of surrogates must come in valid pairs.
    private mutating func escape(into utf8: inout [UInt8]) throws(Failure) {
        guard let byte = peek else { throw Failure(message: "unexpected end of input in a string") }
        index += 1
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(byte)
        case UInt8(ascii: "b"): utf8.append(0x08)
        case UInt8(ascii: "f"): utf8.append(0x0C)
        case UInt8(ascii: "n"): utf8.append(0x0A)
        case UInt8(ascii: "r"): utf8.append(0x0D)
        case UInt8(ascii: "t"): utf8.append(0x09)
        case UInt8(ascii: "u"):
            var code = try hex4()
            if (0xD800...0xDBFF).contains(code) {
                guard bytes.count - index >= 2, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                    throw Failure(message: "unpaired surrogate \\u\(String(code, radix: 16)) in a string at byte \(index)")
                }
                index += 2
                let low = try hex4()
                guard (0xDC00...0xDFFF).contains(low) else {
                    throw Failure(message: "unpaired surrogate \\u\(String(code, radix: 16)) in a string at byte \(index)")
                }
                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00...0xDFFF).contains(code) {
                throw Failure(message: "unpaired surrogate \\u\(String(code, radix: 16)) in a string at byte \(index)")
            }
            guard let scalar = Unicode.Scalar(code) else { throw Failure(message: "invalid \\u escape at byte \(index)") }
            utf8.append(contentsOf: String(Character(scalar)).utf8)
        default:
            index -= 1
            throw unexpected("after '\\' in a string")
        }
    }

    private mutating func hex4() throws(Failure) -> UInt32 {
        guard bytes.count - index >= 4 else { throw Failure(message: "unexpected end of input in a \\u escape") }
        var code: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let nibble: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): nibble = byte - UInt8(ascii: "A") + 10
            default: throw unexpected("in a \\u escape (four hex digits)")
            }
            code = code << 4 | UInt32(nibble)
            index += 1
        }
        return code
    }

    // MARK: bytes

    private var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    /// "unexpected 'x' at byte 12 <context>", or "unexpected end of input <context>".
    private func unexpected(_ context: String) -> Failure {
        guard index < bytes.count else { return Failure(message: "unexpected end of input \(context)") }
        let byte = bytes[index]
        let shown = (0x21...0x7E).contains(byte) ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x\(String(byte, radix: 16))"
        return Failure(message: "unexpected \(shown) at byte \(index) \(context)")
    }
}
