import Foundation

/// What a YAML file from outside (the desired state, a model's config.yaml) must satisfy before Yams reads it.
///
/// Why: Yams builds its node tree by recursion, one stack frame per nesting level, so `[[[[…` 100,000 levels deep
/// overflows the stack and kills the synchronizer; and it resolves an alias by copying the anchored node, so a few
/// lines of nested aliases ("billion laughs") become an exponential tree that hashing mapping keys walks in full.
/// The schema needs neither: its deepest value is five levels down, and nothing in it wants aliases.
///
/// The nesting bound is conservative: for each line, the leading spaces, plus the block indicators (`- `, `? `,
/// `: `) on it, plus the flow brackets open at its end, bound the depth of any node on that line, because every
/// level of YAML nesting costs at least one of those. Quoted scalars are skipped (only at the start of a token,
/// where YAML starts them), so brackets or `*` inside quotes do not count.
public enum YAMLPrecheck {
    /// Far above any real desired state (tens of KiB for thousands of models).
    public static let maxBytes = 1 << 20
    /// Indentation plus indicators plus open brackets on one line. A legible file stays under 40.
    public static let maxNesting = 128

    public struct Refusal: Equatable, Sendable {
        public var line: Int
        public var column: Int
        public var message: String
    }

    /// The first reason to refuse `bytes` before parsing, if any.
    public static func check(_ bytes: Data) -> Refusal? {
        guard bytes.count <= maxBytes else {
            return Refusal(line: 1, column: 1, message: "the file is \(bytes.count) bytes; such a file may be at most \(maxBytes) bytes")
        }
        if let (line, column) = firstInvalidUTF8(bytes) {
            return Refusal(line: line, column: column, message: "the file is not valid UTF-8 (first bad byte here); save it as UTF-8")
        }
        return structure(Array(bytes))
    }

    /// Line and column (1-based, columns in bytes) of the first byte that is not part of valid UTF-8.
    static func firstInvalidUTF8(_ bytes: Data) -> (Int, Int)? {
        var line = 1, column = 1, offset = 0
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        var lineStart = 0
        var consumed = 0
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar):
                consumed = offset + UTF8.width(scalar)
                offset = consumed
                if scalar == "\n" { line += 1; lineStart = offset }
            case .emptyInput:
                return nil
            case .error:
                column = consumed - lineStart + 1
                return (line, column)
            }
        }
    }

    private static func structure(_ text: [UInt8]) -> Refusal? {
        let space = UInt8(ascii: " "), tab = UInt8(ascii: "\t"), newline = UInt8(ascii: "\n"), cr = UInt8(ascii: "\r")
        var flowDepth = 0
        var line = 1
        var i = 0
        var quote: UInt8? = nil          // the quote character of a quoted scalar we are inside
        var atLineStart = true
        var indent = 0
        var indicators = 0
        var previous: UInt8 = newline    // the byte before `i`, for "start of a token"
        func boundary(_ c: UInt8) -> Bool {
            c == space || c == tab || c == newline || c == cr || c == UInt8(ascii: "[") || c == UInt8(ascii: "{") || c == UInt8(ascii: ",")
        }
        while i < text.count {
            let c = text[i]
            if let q = quote {
                // `\x` escapes in double quotes, `''` is a quote inside single quotes: neither ends the scalar.
                if c == UInt8(ascii: "\\"), q == UInt8(ascii: "\"") { i += 2; previous = space; continue }
                if c == UInt8(ascii: "'"), q == c, i + 1 < text.count, text[i + 1] == c { i += 2; previous = space; continue }
                if c == q { quote = nil }
                if c == newline { line += 1 }
                previous = c
                i += 1
                continue
            }
            if c == newline {
                line += 1
                atLineStart = true
                indent = 0
                indicators = 0
                previous = c
                i += 1
                continue
            }
            if atLineStart {
                if c == space { indent += 1; previous = c; i += 1; continue }
                atLineStart = false
            }
            let next: UInt8 = i + 1 < text.count ? text[i + 1] : newline
            let tokenStart = boundary(previous) || previous == UInt8(ascii: ":") || previous == UInt8(ascii: "-") || previous == UInt8(ascii: "?")
            let isQuote = c == UInt8(ascii: "'") || c == UInt8(ascii: "\"")
            let isIndicator = c == UInt8(ascii: "-") || c == UInt8(ascii: "?") || c == UInt8(ascii: ":")
            if c == UInt8(ascii: "#"), previous == space || previous == tab || previous == newline {
                // A comment runs to the end of the line.
                while i < text.count, text[i] != newline { i += 1 }
                continue
            } else if isQuote, tokenStart {
                quote = c
            } else if c == UInt8(ascii: "[") || c == UInt8(ascii: "{") {
                flowDepth += 1
            } else if c == UInt8(ascii: "]") || c == UInt8(ascii: "}") {
                flowDepth = max(0, flowDepth - 1)
            } else if isIndicator, boundary(next) {
                indicators += 1
            } else if c == UInt8(ascii: "*"), tokenStart, !boundary(next) {
                return Refusal(line: line, column: column(of: i, in: text), message: "aliases (*name) are not supported in a desired state; write the value out (quote it if '*' is part of a string)")
            }
            if indent + indicators + flowDepth > maxNesting {
                return Refusal(line: line, column: column(of: i, in: text), message: "nested more than \(maxNesting) levels deep (counting indentation, '-', ':' and open brackets); the schema needs five")
            }
            previous = c
            i += 1
        }
        return nil
    }

    private static func column(of index: Int, in text: [UInt8]) -> Int {
        var start = index
        while start > 0, text[start - 1] != UInt8(ascii: "\n") { start -= 1 }
        return index - start + 1
    }

    /// `-12`, `+7`, `1_000`: at most 18 digits, so the value always fits in an `Int`. Integers from outside YAML are
    /// read with this, never through Yams' resolver, which also accepts sexagesimal (`1:30:00`) and traps when such a
    /// number overflows.
    public static func decimalInteger(_ text: String) -> Int? {
        var digits = Substring(text.replacingOccurrences(of: "_", with: ""))
        var negative = false
        if let sign = digits.first, sign == "-" || sign == "+" { negative = sign == "-"; digits = digits.dropFirst() }
        guard !digits.isEmpty, digits.count <= 18, digits.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let magnitude = Int(digits) else { return nil }
        return negative ? -magnitude : magnitude
    }
}
