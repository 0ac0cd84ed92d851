/// A model's name as it appears in URLs, the desired state and the model repository.
///
/// Invariant: matches `[A-Za-z0-9][A-Za-z0-9_.-]{0,127}`, so it holds no `/`, `\`, NUL or `%`, never starts with
/// a dot (no `.`, `..`, hidden files) and can be joined to a repository path as one component without escaping it.
/// URL paths are not percent-decoded anywhere in Hedgerow, so `%2e%2e`, `%2f`, `%00` or `%252e` reach this check
/// as they were sent and are refused for their `%`. Anything else is refused before the file system is touched.
public struct ModelName: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    public let rawValue: String

    public init(_ rawValue: String) throws(HedgerowError) {
        guard Self.isValid(rawValue) else {
            throw HedgerowError(
                .badRequest,
                "invalid model name \(Self.quoted(rawValue)): use 1-128 characters of A-Z a-z 0-9 _ . -, starting with a letter or digit"
            )
        }
        self.rawValue = rawValue
    }

    public static func isValid(_ name: String) -> Bool {
        let utf8 = name.utf8
        guard let first = utf8.first, utf8.count <= 128, isAlphanumeric(first) else { return false }
        return utf8.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
    }

    /// A byte a name (or a path segment Hedgerow builds from names) may hold: `A-Z a-z 0-9 _ . -`.
    public static func isAllowedByte(_ byte: UInt8) -> Bool {
        isAlphanumeric(byte) || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-")
    }

    /// Hostile text made safe to put in an error message or a log line: at most 64 characters, quoted, with
    /// anything but printable ASCII (control characters, NUL, newlines, non-ASCII) shown as `\u{..}` so an
    /// error can neither forge log lines nor carry kilobytes of attacker input.
    public static func quoted(_ text: some StringProtocol, limit: Int = 64) -> String {
        var out = "'"
        for (i, scalar) in text.unicodeScalars.enumerated() {
            if i == limit { out += "…"; break }
            if scalar.value >= 0x20 && scalar.value < 0x7F && scalar != "'" && scalar != "\\" {
                out.unicodeScalars.append(scalar)
            } else {
                out += "\\u{\(String(scalar.value, radix: 16))}"
            }
        }
        return out + "'"
    }

    private static func isAlphanumeric(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
            || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))
    }

    public var description: String { rawValue }
    public static func < (lhs: ModelName, rhs: ModelName) -> Bool { lhs.rawValue < rhs.rawValue }

    public init(from decoder: any Decoder) throws {
        let raw = try decoder.singleValueContainer().decode(String.self)
        do { try self.init(raw) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.message))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// A model version number. Versions are positive integers; in the repository the directory name is the version.
public struct ModelVersion: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    public let number: Int

    public init(_ number: Int) throws(HedgerowError) {
        guard number > 0 else { throw HedgerowError(.badRequest, "invalid model version \(number): versions are positive integers") }
        self.number = number
    }

    /// Parses the canonical decimal form used in URLs and directory names ("1", "42"): ASCII digits only (no sign,
    /// no leading "+", no spaces, no leading zero), at most 18 digits so it cannot overflow `Int`. Canonical means
    /// one version has exactly one spelling: the text parsed is the directory name the repository is read from.
    public init(parsing text: Substring) throws(HedgerowError) {
        guard Self.isCanonical(text), let n = Int(text), n > 0 else {
            throw HedgerowError(.badRequest, "invalid model version \(ModelName.quoted(text, limit: 24)): versions are positive integers written without sign or leading zeros")
        }
        self.number = n
    }

    private static func isCanonical(_ text: Substring) -> Bool {
        let utf8 = text.utf8
        guard let first = utf8.first, first != UInt8(ascii: "0"), utf8.count <= 18 else { return false }
        return utf8.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    }

    public var description: String { String(number) }
    public static func < (lhs: ModelVersion, rhs: ModelVersion) -> Bool { lhs.number < rhs.number }

    public init(from decoder: any Decoder) throws {
        let n = try decoder.singleValueContainer().decode(Int.self)
        do { try self.init(n) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.message))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(number)
    }
}

/// One model version: the unit that is loaded, placed and routed.
public struct ModelVersionID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let model: ModelName
    public let version: ModelVersion

    public init(model: ModelName, version: ModelVersion) {
        self.model = model
        self.version = version
    }

    public var description: String { "\(model) v\(version)" }
    public static func < (lhs: Self, rhs: Self) -> Bool { (lhs.model, lhs.version) < (rhs.model, rhs.version) }
}
