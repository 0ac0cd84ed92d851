import Foundation
import HedgerowCore
@testable import HedgerowRuntime
import Testing

/// The example models' bytes, mutated with a fixed seed (bit flips, byte overwrites, truncation, corrupt varints
/// and length fields, and through the protobuf types: dims, attributes, constants and wiring rewritten to hostile
/// values), each loaded and run once on small valid inputs. Every case must throw a `HedgerowError` or succeed:
/// a trap kills this test process, so a defect that returns fails the suite. Deterministic: the same seed gives
/// the same cases on every run. Set HEDGEROW_MUTATION_TRACE=1 to print each case before it runs (the last line
/// printed names the one that trapped).
@Suite struct ModelMutationTests {
    /// SplitMix64: small, fast and the same everywhere.
    struct Random {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { n <= 0 ? 0 : Int(next() % UInt64(n)) }
        mutating func pick<T>(_ values: [T]) -> T { values[below(values.count)] }
    }

    static let hostileIntegers: [Int64] = [
        0, -1, -2, 1, 2, .max, .min, .max - 1, .min + 1, 1 << 62, 4_611_686_018_427_387_904, 1 << 31, -(1 << 31),
        1 << 28, (1 << 28) + 1, 1 << 20, 65, 3,
    ]

    static let trace = ProcessInfo.processInfo.environment["HEDGEROW_MUTATION_TRACE"] != nil

    enum Outcome { case refusedAtLoad, failedToRun, ran, skipped }

    /// Loads `data` and runs it once on small inputs (dynamic dimensions 1, values 0..<3).
    static func loadAndRun(_ data: Data, _ what: String) -> Outcome {
        if trace { print("mutation case: \(what)") }
        let graph: ModelGraph
        do { graph = try ModelLoader.load(data, source: what) } catch { return .refusedAtLoad }
        var feeds: [String: Tensor] = [:]
        for input in graph.inputs {
            let shape = input.shape.map { $0 ?? 1 }
            // The loader checked the declared shape against the tensor limit; a test run stays small.
            guard let count = TensorLimits.validCount(shape), count <= 1 << 16 else { return .skipped }
            let values = (0..<count).map { $0 % 3 }
            switch input.elementType {
            case .float32: feeds[input.name] = Tensor(shape: shape, floats: values.map { Float($0) * 0.5 })
            case .int64: feeds[input.name] = Tensor(shape: shape, int64s: values.map { Int64($0) })
            case .int32: feeds[input.name] = Tensor(shape: shape, int32s: values.map { Int32($0) })
            case .bool: feeds[input.name] = Tensor(shape: shape, bools: values.map { $0 == 1 })
            case .string: feeds[input.name] = Tensor(shape: shape, strings: values.map { ["basic", "north", "?"][$0] })
            }
        }
        do { _ = try graph.run(feeds); return .ran } catch { return .failedToRun }
    }

    // MARK: Byte-level mutations

    static func mutateBytes(_ original: Data, _ random: inout Random) -> (Data, String) {
        var bytes = [UInt8](original)
        let kind = random.below(6)
        switch kind {
        case 0:
            let flips = 1 + random.below(8)
            for _ in 0..<flips { bytes[random.below(bytes.count)] ^= UInt8(1) << UInt8(random.below(8)) }
            return (Data(bytes), "\(flips) bit flips")
        case 1:
            let writes = 1 + random.below(8)
            for _ in 0..<writes { bytes[random.below(bytes.count)] = random.pick([0x00, 0xFF, 0x7F, 0x80, UInt8(truncatingIfNeeded: random.next())]) }
            return (Data(bytes), "\(writes) byte overwrites")
        case 2:
            let length = random.below(bytes.count)
            return (Data(bytes.prefix(length)), "truncated to \(length) bytes")
        case 3:
            // An overlong or huge varint where a tag, a length or a value was.
            let at = random.below(bytes.count)
            let varint: [UInt8] = random.pick([[0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], [0xFF, 0xFF, 0xFF, 0xFF, 0x0F], [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80]])
            bytes.replaceSubrange(at..<min(bytes.count, at + varint.count), with: varint)
            return (Data(bytes), "varint written at \(at)")
        case 4:
            // A length-delimited field (wire type 2) whose length byte is made larger or smaller.
            let candidates = bytes.indices.dropLast().filter { bytes[$0] & 0x07 == 2 && bytes[$0] >> 3 > 0 }
            guard !candidates.isEmpty else { return (Data(bytes), "unchanged") }
            let at = random.pick(candidates) + 1
            bytes[at] = random.pick([0x00, 0x7F, 0xFF, bytes[at] &+ 1, bytes[at] &- 1])
            return (Data(bytes), "length field at \(at) set to \(bytes[at])")
        default:
            let start = random.below(bytes.count), length = 1 + random.below(64)
            let segment = Array(bytes[start..<min(bytes.count, start + length)])
            bytes.insert(contentsOf: segment, at: random.below(bytes.count))
            return (Data(bytes), "segment of \(segment.count) bytes duplicated")
        }
    }

    // MARK: Mutations through the protobuf types

    static func mutateModel(_ original: Onnx_ModelProto, _ random: inout Random) -> (Onnx_ModelProto, String) {
        var model = original
        var graph = model.graph
        let kind = random.below(8)
        switch kind {
        case 0 where !graph.initializer.isEmpty:
            let i = random.below(graph.initializer.count)
            let value = random.pick(hostileIntegers)
            if graph.initializer[i].dims.isEmpty || random.below(4) == 0 {
                graph.initializer[i].dims.append(value)
            } else {
                graph.initializer[i].dims[random.below(graph.initializer[i].dims.count)] = value
            }
            model.graph = graph
            return (model, "initializer '\(graph.initializer[i].name)' dims \(graph.initializer[i].dims)")
        case 1:
            // An integer attribute (or one of a list) of a random node set to a hostile value.
            let nodes = graph.node.indices.filter { !graph.node[$0].attribute.isEmpty }
            guard !nodes.isEmpty else { return (model, "unchanged") }
            let n = random.pick(nodes), a = random.below(graph.node[n].attribute.count)
            let value = random.pick(hostileIntegers)
            var attribute = graph.node[n].attribute[a]
            if attribute.type == .ints, !attribute.ints.isEmpty {
                attribute.ints[random.below(attribute.ints.count)] = value
            } else if random.below(2) == 0 {
                attribute.type = .int
                attribute.i = value
            } else {
                attribute.type = .ints
                attribute.ints = (0..<(1 + random.below(4))).map { _ in random.pick(hostileIntegers) }
            }
            graph.node[n].attribute[a] = attribute
            model.graph = graph
            return (model, "node '\(graph.node[n].name)' (\(graph.node[n].opType)) attribute '\(attribute.name)' set to \(attribute.type == .int ? "\(attribute.i)" : "\(attribute.ints)")")
        case 2:
            // The values of an int64 constant (shapes, axes, indices) rewritten.
            let ints = graph.initializer.indices.filter { graph.initializer[$0].dataType == 7 }
            guard !ints.isEmpty else { return (model, "unchanged") }
            let i = random.pick(ints)
            var values: [Int64] = graph.initializer[i].int64Data
            if !graph.initializer[i].rawData.isEmpty {
                values = graph.initializer[i].rawData.withUnsafeBytes { raw in (0..<raw.count / 8).map { raw.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self) } }
            }
            guard !values.isEmpty else { return (model, "unchanged") }
            values[random.below(values.count)] = random.pick(hostileIntegers)
            graph.initializer[i].rawData = Data()
            graph.initializer[i].int64Data = values
            model.graph = graph
            return (model, "int64 initializer '\(graph.initializer[i].name)' values \(values)")
        case 3 where !graph.node.isEmpty:
            // A node input rewired to another value (may form a cycle or read a value of another shape).
            let names = graph.node.flatMap(\.output) + graph.input.map(\.name) + graph.initializer.map(\.name)
            let n = random.below(graph.node.count)
            guard !graph.node[n].input.isEmpty else { return (model, "unchanged") }
            let slot = random.below(graph.node[n].input.count)
            graph.node[n].input[slot] = random.pick(names + [""])
            model.graph = graph
            return (model, "node '\(graph.node[n].name)' input \(slot) rewired to '\(graph.node[n].input[slot])'")
        case 4 where !graph.node.isEmpty:
            let n = random.below(graph.node.count)
            graph.node[n].opType = random.pick(Operators.supported)
            model.graph = graph
            return (model, "node '\(graph.node[n].name)' became \(graph.node[n].opType)")
        case 5 where !graph.input.isEmpty:
            let i = random.below(graph.input.count)
            var dims = graph.input[i].type.tensorType.shape.dim
            var dim = Onnx_TensorShapeProto.Dimension()
            dim.dimValue = random.pick(hostileIntegers)
            if dims.isEmpty || random.below(3) == 0 { dims.append(dim) } else { dims[random.below(dims.count)] = dim }
            graph.input[i].type.tensorType.shape.dim = dims
            model.graph = graph
            return (model, "graph input '\(graph.input[i].name)' dims rewritten")
        case 6:
            model.opsetImport = [Onnx_OperatorSetIdProto()]
            model.opsetImport[0].version = random.pick(hostileIntegers + [1, 7, 11, 12, 17, 18, 21, 22])
            return (model, "opset \(model.opsetImport[0].version)")
        default:
            // A node duplicated or dropped.
            guard !graph.node.isEmpty else { return (model, "unchanged") }
            let n = random.below(graph.node.count)
            if random.below(2) == 0 { graph.node.append(graph.node[n]) } else { graph.node.remove(at: n) }
            model.graph = graph
            return (model, "node \(n) duplicated or dropped")
        }
    }

    static func modelBytes(_ name: String) throws -> Data {
        try Data(contentsOf: ExampleModelsTests.models.appendingPathComponent("\(name)/1/model.onnx"))
    }

    @Test(arguments: [("digits", UInt64(11)), ("digits-cnn", UInt64(12)), ("encoder", UInt64(13)),
                      ("iris-logreg", UInt64(14)), ("iris-forest", UInt64(15)), ("diabetes-gbr", UInt64(16)),
                      ("churn-pipeline", UInt64(17)), ("iris-xgboost", UInt64(18)), ("cancer-lightgbm", UInt64(19))])
    func mutatedModelsThrowOrRunButNeverTrap(_ name: String, seed: UInt64) throws {
        let original = try Self.modelBytes(name)
        let proto = try Onnx_ModelProto(serializedBytes: original)
        #expect(Self.loadAndRun(original, name) == .ran)
        var random = Random(state: seed)
        var outcomes: [Outcome: Int] = [:]
        let started = ContinuousClock.now
        // Fewer cases for the larger encoder: a debug build decodes its 200 kB for every case.
        let cases = name == "encoder" ? 120 : 250
        for i in 0..<cases {
            let (data, what) = Self.mutateBytes(original, &random)
            outcomes[Self.loadAndRun(data, "\(name) byte case \(i): \(what)"), default: 0] += 1
        }
        for i in 0..<cases {
            let (model, what) = Self.mutateModel(proto, &random)
            outcomes[Self.loadAndRun(try model.serializedData(), "\(name) proto case \(i): \(what)"), default: 0] += 1
        }
        let elapsed = ContinuousClock.now - started
        // Both kinds of result occur: the mutations reach the kernels, not only the decoder.
        #expect(outcomes[.refusedAtLoad, default: 0] > 0)
        #expect(outcomes[.ran, default: 0] + outcomes[.failedToRun, default: 0] > 0)
        #expect(elapsed < .seconds(30), "\(name): \(2 * cases) mutations took \(elapsed)")
    }
}
