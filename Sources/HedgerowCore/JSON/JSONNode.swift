/// A parsed JSON value, shaped for inference requests: a list whose elements are all numbers (tensor data, nearly
/// every byte of a request) is one flat `[Double]`, not a list of boxed values. Shared by workers (request bodies,
/// reference.json) and routers (comparing two versions' answers), which must not import each other.
///
/// Objects keep their members in order; a key given twice means its last value, as most JSON parsers read it.
public indirect enum JSONNode: Sendable {
    case object([(key: String, value: JSONNode)])
    case array([JSONNode])
    /// A list of numbers only, including the empty list.
    case numbers([Double])
    case number(Double)
    case string(String)
    case bool(Bool)
    case null

    /// The value of `key` in an object; nil for a missing key or a value that is not an object.
    public subscript(key: String) -> JSONNode? {
        guard case .object(let members) = self else { return nil }
        return members.last { $0.key == key }?.value
    }

    /// The elements of a list (of either representation), or nil if this is not a list.
    public var elements: [JSONNode]? {
        switch self {
        case .array(let list): list
        case .numbers(let values): values.map { .number($0) }
        default: nil
        }
    }

    public var isObject: Bool { if case .object = self { true } else { false } }

    /// What this is, for messages: "a string", "an object", …
    public var kind: String {
        switch self {
        case .object: "an object"
        case .array, .numbers: "a list"
        case .number: "a number"
        case .string: "a string"
        case .bool: "a boolean"
        case .null: "null"
        }
    }

    /// A number as a request would spell it: integers without a fraction, so that messages quote `[1, 63]`, not
    /// `[1.0, 63.0]`.
    public static func text(_ number: Double) -> String {
        if number.rounded() == number, abs(number) < 9.2e18 { return String(Int64(number)) }
        return "\(number)"
    }
}
