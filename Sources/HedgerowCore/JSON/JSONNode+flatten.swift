extension JSONNode {
    /// The numbers (or, flattened as text, the strings) of a (possibly nested) JSON list in row-major order, the
    /// shape the nesting implies, and where the first JSON boolean was (booleans count as 1 and 0).
    public struct Flattened: Sendable, Equatable {
        public var values: [Double] = []
        public var strings: [String] = []
        public var shape: [Int] = []
        public var firstBoolean: Int?

        public init() {}

        /// How many elements were read, numbers or strings (one kind per flattening).
        public var count: Int { values.count + strings.count }
    }

    /// Why a value is not a tensor of numbers.
    public enum FlattenError: Error, Equatable {
        /// Two rows of one list have different shapes.
        case ragged([Int], [Int])
        /// Something that is not a number, boolean or list: its `kind`.
        case notANumber(String)
        /// Lists nested deeper than the limit given.
        case tooDeep
        /// Flattening text, something that is not a string or list: its `kind`.
        case notAString(String)
    }

    /// Flattens a number or a (nested) list of numbers, or with `text` a string or a (nested) list of strings.
    /// Recursion is bounded by `maxDepth` lists.
    public func flattened(maxDepth: Int, text: Bool = false) throws(FlattenError) -> Flattened {
        var result = Flattened()
        result.shape = try flatten(depth: 0, maxDepth: maxDepth, text: text, into: &result)
        return result
    }

    private func flatten(depth: Int, maxDepth: Int, text: Bool, into result: inout Flattened) throws(FlattenError) -> [Int] {
        if text {
            switch self {
            case .string(let value):
                result.strings.append(value)
                return []
            case .numbers(let values):
                guard depth < maxDepth else { throw .tooDeep }
                // A packed list of numbers: empty is an empty list of strings; otherwise its elements are wrong.
                guard values.isEmpty else { throw .notAString(JSONNode.number(values[0]).kind) }
                return [0]
            case .array:
                break
            default:
                throw .notAString(kind)
            }
        }
        switch self {
        case .numbers(let values):
            guard depth < maxDepth else { throw .tooDeep }
            result.values.append(contentsOf: values)
            return [values.count]
        case .array(let list):
            guard depth < maxDepth else { throw .tooDeep }
            var childShape: [Int]?
            for element in list {
                let shape = try element.flatten(depth: depth + 1, maxDepth: maxDepth, text: text, into: &result)
                if let childShape, childShape != shape { throw .ragged(childShape, shape) }
                childShape = shape
            }
            return [list.count] + (childShape ?? [])
        case .number(let number):
            result.values.append(number)
            return []
        case .bool(let flag):
            if result.firstBoolean == nil { result.firstBoolean = result.values.count }
            result.values.append(flag ? 1 : 0)
            return []
        case .object, .string, .null:
            throw .notANumber(kind)
        }
    }
}
