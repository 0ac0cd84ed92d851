/// A model's name as it appears in URLs, the desired state and the model repository.
///
/// Invariant: matches `[A-Za-z0-9][A-Za-z0-9_.-]{0,127}` and is never `.` or `..`-like, so a name can be joined
/// to a repository path without escaping it. Anything else is refused before the file system is touched.
public struct ModelName: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    public let rawValue: String

    public init(_ rawValue: String) throws(HedgerowError) {
        guard Self.isValid(rawValue) else {
            throw HedgerowError(
                .badRequest,
                "invalid model name '\(rawValue.prefix(140))': use 1-128 characters of A-Z a-z 0-9 _ . -, starting with a letter or digit"
            )
        }
        self.rawValue = rawValue
    }

    public static func isValid(_ name: String) -> Bool {
        let utf8 = name.utf8
        guard let first = utf8.first, utf8.count <= 128, isAlphanumeric(first) else { return false }
        return utf8.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
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

    /// Parses the decimal form used in URLs and directory names ("1", "42"); no sign, no leading "+", at most 18 digits.
    public init(parsing text: Substring) throws(HedgerowError) {
        guard !text.isEmpty, text.count <= 18, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let n = Int(text), n > 0 else {
            throw HedgerowError(.badRequest, "invalid model version '\(text.prefix(40))': versions are positive integers")
        }
        self.number = n
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
