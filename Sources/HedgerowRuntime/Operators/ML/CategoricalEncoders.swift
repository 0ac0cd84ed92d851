import HedgerowCore

/// LabelEncoder and OneHotEncoder: the categorical steps of a scikit-learn pipeline (string or integer categories
/// in, integers, strings or one-hot floats out). The tables are built once at load, as dictionaries; a run is one
/// lookup per element.
enum CategoricalEncoders {
    /// LabelEncoder: each element looked up among the keys and replaced by the value at the same position, or by
    /// the default. Opset 2+ attributes (`keys_*`, `values_*`, `default_*`, and opset 4's `*_tensor`), or opset 1's
    /// `classes_strings` (strings → their positions, integers → the strings at them). The output has the input's
    /// shape and the values' type.
    static func labelEncoder(_ node: Node) throws(HedgerowError) -> Kernel {
        func fail(_ message: String) -> HedgerowError { HedgerowError(.loadFailed, "node '\(node.label)' (LabelEncoder): \(message)") }
        if let classes = try node.strings("classes_strings") {
            let positions = classes.indices.map { Int64($0) }
            let toIndex = try Lookup(keys: .string(classes), values: .int64(positions), default: .int64([Int64(try node.int("default_int64", default: -1))]), node: node)
            let toName = try Lookup(keys: .int64(positions), values: .string(classes), default: .string([try node.string("default_string", default: "_Unused")]), node: node)
            return { node, args throws(HedgerowError) in
                let x = try Operators.input(args, 0, of: node)
                return [try (x.elementType == .string ? toIndex : toName).map(x, node: node)]
            }
        }
        let keys = try storage(node, "keys")
        let values = try storage(node, "values")
        guard let keys, let values else { throw fail("needs keys (keys_strings, keys_int64s, keys_floats or keys_tensor) and values") }
        guard keys.count == values.count else { throw fail("\(keys.count) keys for \(values.count) values") }
        let fallback: Tensor.Storage
        if let tensor = try node.tensor("default_tensor") {
            guard tensor.count == 1, tensor.elementType == values.elementType else { throw fail("default_tensor must be one \(values.elementType) value") }
            fallback = tensor.storage
        } else {
            switch values.elementType {
            case .string: fallback = .string([try node.string("default_string", default: "_Unused")])
            case .int64: fallback = .int64([Int64(try node.int("default_int64", default: -1))])
            default: fallback = .float32([try node.float("default_float", default: -0.0)])
            }
        }
        let lookup = try Lookup(keys: keys, values: values, default: fallback, node: node)
        return { node, args throws(HedgerowError) in [try lookup.map(try Operators.input(args, 0, of: node), node: node)] }
    }

    /// OneHotEncoder: each element becomes a row of `cats` zeros with a one where it matches; shape `X.shape + [C]`,
    /// float. Numeric inputs are compared as int64 (as onnxruntime casts them); with `zeros` = 0 a value among no
    /// category is a 400, else its row is all zeros.
    static func oneHotEncoder(_ node: Node) throws(HedgerowError) -> Kernel {
        func fail(_ message: String) -> HedgerowError { HedgerowError(.loadFailed, "node '\(node.label)' (OneHotEncoder): \(message)") }
        let strings = try node.strings("cats_strings"), ints = try node.ints("cats_int64s")
        let categories: Tensor.Storage
        switch (strings, ints) {
        case (let s?, nil) where !s.isEmpty: categories = .string(s)
        case (nil, let i?) where !i.isEmpty: categories = .int64(i.map { Int64($0) })
        default: throw fail("needs one non-empty list of categories, cats_strings or cats_int64s")
        }
        let width = categories.count
        let positions = Tensor.Storage.int64((0..<width).map { Int64($0) })
        let lookup = try Lookup(keys: categories, values: positions, default: .int64([-1]), node: node)
        let allowUnknown = try node.int("zeros", default: 1) != 0
        return { node, args throws(HedgerowError) in
            var x = try Operators.input(args, 0, of: node)
            if x.elementType == .float32 || x.elementType == .int32 || x.elementType == .bool {
                x = try Cast.convert(x, to: .int64, node: node)
            }
            let hits = try lookup.map(x, node: node).int64s("")
            let shape = x.shape + [width]
            let total = try TensorLimits.count(shape, what: "output of node '\(node.label)'", kind: .badRequest)
            var out = [Float](repeating: 0, count: total)
            for (i, hit) in hits.enumerated() {
                if hit >= 0 {
                    out[i * width + Int(hit)] = 1
                } else if !allowUnknown {
                    throw HedgerowError(.badRequest, "node '\(node.label)' (OneHotEncoder): element \(i) is not one of the \(width) categories the model knows (and the model was exported with zeros=0)")
                }
            }
            return [Tensor(shape: shape, floats: out)]
        }
    }

    /// The keys or values of a LabelEncoder, from `<prefix>_strings`, `_int64s`, `_floats` or `_tensor`.
    private static func storage(_ node: Node, _ prefix: String) throws(HedgerowError) -> Tensor.Storage? {
        var found: [Tensor.Storage] = []
        if let v = try node.strings("\(prefix)_strings") { found.append(.string(v)) }
        if let v = try node.ints("\(prefix)_int64s") { found.append(.int64(v.map { Int64($0) })) }
        if let v = try node.floats("\(prefix)_floats") { found.append(.float32(v)) }
        if let v = try node.tensor("\(prefix)_tensor") {
            guard v.elementType != .bool else {
                throw HedgerowError(.loadFailed, "node '\(node.label)' (LabelEncoder): \(prefix)_tensor must hold strings or numbers")
            }
            found.append(v.storage)
        }
        guard found.count <= 1 else {
            throw HedgerowError(.loadFailed, "node '\(node.label)' (LabelEncoder): more than one list of \(prefix) (\(prefix)_strings, _int64s, _floats, _tensor); it must have one")
        }
        return found.first
    }
}

/// A table from keys to positions, built once: strings, integers (int64 and int32 alike) or floats (NaN matches a
/// NaN key, and -0 matches 0, as onnxruntime's tables do). `map` replaces each element of a tensor by the value
/// at its key's position, or the default.
private struct Lookup: Sendable {
    private var strings: [String: Int] = [:]
    private var integers: [Int64: Int] = [:]
    private var floats: [Float: Int] = [:]
    private var nanIndex: Int?
    private let keyType: ElementType
    private let values: Tensor.Storage
    private let fallback: Tensor.Storage

    init(keys: Tensor.Storage, values: Tensor.Storage, default fallback: Tensor.Storage, node: Node) throws(HedgerowError) {
        (keyType, self.values, self.fallback) = (keys.elementType, values, fallback)
        // The first of two equal keys wins, as in onnxruntime.
        switch keys {
        case .string(let k): for (i, key) in k.enumerated() where strings[key] == nil { strings[key] = i }
        case .int64(let k): for (i, key) in k.enumerated() where integers[key] == nil { integers[key] = i }
        case .int32(let k): for (i, key) in k.enumerated() where integers[Int64(key)] == nil { integers[Int64(key)] = i }
        case .float32(let k):
            for (i, key) in k.enumerated() {
                if key.isNaN { nanIndex = nanIndex ?? i } else if floats[key] == nil { floats[key] = i }
            }
        case .bool:
            throw HedgerowError(.loadFailed, "node '\(node.label)' (\(node.opType)): keys must be strings or numbers")
        }
    }

    func map(_ x: Tensor, node: Node) throws(HedgerowError) -> Tensor {
        let positions: [Int?]
        switch x.storage {
        case .string(let v) where keyType == .string: positions = v.map { strings[$0] }
        case .int64(let v) where keyType == .int64 || keyType == .int32: positions = v.map { integers[$0] }
        case .int32(let v) where keyType == .int64 || keyType == .int32: positions = v.map { integers[Int64($0)] }
        case .float32(let v) where keyType == .float32: positions = v.map { $0.isNaN ? nanIndex : floats[$0] }
        default:
            throw HedgerowError(.badRequest, "node '\(node.label)' (\(node.opType)): input must be \(keyType), got \(x.elementType)")
        }
        func pick<T>(_ table: [T], _ other: [T]) -> [T] { positions.map { $0.map { table[$0] } ?? other[0] } }
        let storage: Tensor.Storage
        switch (values, fallback) {
        case (.string(let t), .string(let d)): storage = .string(pick(t, d))
        case (.int64(let t), .int64(let d)): storage = .int64(pick(t, d))
        case (.int32(let t), .int32(let d)): storage = .int32(pick(t, d))
        case (.float32(let t), .float32(let d)): storage = .float32(pick(t, d))
        case (.bool(let t), .bool(let d)): storage = .bool(pick(t, d))
        default: throw HedgerowError(.internalError, "node '\(node.label)' (\(node.opType)): default of another type than the values")
        }
        return Tensor(shape: x.shape, storage: storage)
    }
}
