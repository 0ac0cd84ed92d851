import Foundation
import HedgerowCore
@testable import HedgerowRuntime
import Testing

/// Model files written to break the loader or a kernel: sizes that overflow, bytes that disagree with their dims,
/// names that collide, opsets that make no sense. Each must be a thrown `HedgerowError` naming what is wrong;
/// a trap would kill this test process (and, in production, the worker with every model it serves).
@Suite struct HostileModelTests {
    typealias F = ModelFixtures

    static func int64Tensor(_ name: String, _ dims: [Int64], _ values: [Int64]) -> Onnx_TensorProto {
        var t = Onnx_TensorProto()
        t.name = name
        t.dims = dims
        t.dataType = 7
        t.int64Data = values
        return t
    }

    static func attribute(_ name: String, ints: [Int64]) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .ints
        a.ints = ints
        return a
    }

    static func attribute(_ name: String, int: Int64) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .int
        a.i = int
        return a
    }

    /// A one-node model over a float input `x` of `shape`, loaded and run once on zeros. Returns the error thrown.
    func loadAndRun(_ node: Onnx_NodeProto, x shape: [Int64], initializers: [Onnx_TensorProto] = [], opset: Int64 = 13) -> HedgerowError? {
        do {
            let data = try F.model(nodes: [node], inputs: [F.valueInfo("x", shape)], outputs: [F.valueInfo("y", [])], initializers: initializers, opset: opset)
            let graph = try ModelLoader.load(data, source: "hostile.onnx")
            let count = shape.reduce(1) { $0 * Int($1) }
            _ = try graph.run(["x": Tensor(shape: shape.map { Int($0) }, floats: [Float](repeating: 0, count: count))])
            return nil
        } catch let error as HedgerowError {
            return error
        } catch {
            Issue.record("unexpected error \(error)")
            return nil
        }
    }

    /// The defect that killed a worker in warm-up: Reshape to a constant shape whose product passes Int.max.
    @Test func reshapeToAnOverflowingConstantShapeIsAnError() throws {
        let target = Self.int64Tensor("target", [2], [4_611_686_018_427_387_904, 8])
        let error = try #require(loadAndRun(F.node("Reshape", ["x", "target"], ["y"], name: "reshape_1"), x: [2, 4], initializers: [target]))
        #expect(error == HedgerowError(.badRequest, "node 'reshape_1' (Reshape): target shape [4611686018427387904, 8] is too large (a tensor holds at most 268435456 elements)"))
        // An inferred dimension next to an overflowing product, and a rank past the limit.
        let inferred = Self.int64Tensor("target", [3], [-1, 4_611_686_018_427_387_904, 4])
        #expect(loadAndRun(F.node("Reshape", ["x", "target"], ["y"], name: "r"), x: [2, 4], initializers: [inferred]) != nil)
        let deep = Self.int64Tensor("target", [65], [Int64](repeating: 1, count: 57) + [2, 4] + [Int64](repeating: 1, count: 6))
        #expect(loadAndRun(F.node("Reshape", ["x", "target"], ["y"], name: "r"), x: [2, 4], initializers: [deep])?.message.contains("65 dimensions") == true)
        // Zero-sized but with overflowing strides: refused too.
        let allowZero = Self.int64Tensor("target", [3], [0, 4_611_686_018_427_387_904, 4])
        #expect(loadAndRun(F.node("Reshape", ["x", "target"], ["y"], name: "r", attributes: [Self.attribute("allowzero", int: 1)]), x: [0, 4], initializers: [allowZero]) != nil)
    }

    @Test func initializerDimsMustBeValidAndAgreeWithTheirData() throws {
        func load(_ tensor: Onnx_TensorProto) -> HedgerowError? {
            do {
                _ = try ModelLoader.load(try F.model(nodes: [F.node("Add", ["x", "w"], ["y"])], inputs: [F.valueInfo("x", [2])], outputs: [F.valueInfo("y", [2])], initializers: [tensor]), source: "bad.onnx")
                return nil
            } catch let error as HedgerowError { return error } catch { return nil }
        }
        #expect(load(F.floatTensor("w", [-2, -1], [0, 0]))?.message == "bad.onnx: initializer 'w': shape [-2, -1] has a negative dimension (-2)")
        #expect(load(F.floatTensor("w", [4_611_686_018_427_387_904, 8], [0]))?.kind == .loadFailed)
        #expect(load(F.floatTensor("w", [.max, .max, 0], []))?.kind == .loadFailed)
        #expect(load(F.floatTensor("w", [3], [0, 0]))?.message == "bad.onnx: initializer 'w': shape [3] needs 3 values but the file holds 2")
        var raw = F.floatTensor("w", [2], [])
        raw.rawData = Data(count: 7)  // not a whole number of float32s
        #expect(load(raw)?.message == "bad.onnx: initializer 'w': shape [2] of FP32 needs 2 values (8 bytes) but raw_data holds 7 bytes")
        raw.rawData = Data(count: 12)
        #expect(load(raw)?.kind == .loadFailed)
        var external = F.floatTensor("w", [2], [0, 0])
        external.dataLocation = .external
        #expect(load(external)?.message.contains("its data is in an external file, which a model loaded from bytes cannot reach") == true)
        var unknownType = F.floatTensor("w", [2], [0, 0])
        unknownType.dataType = 12345
        #expect(load(unknownType)?.kind == .loadFailed)
        #expect(load(F.floatTensor("w", [2], [1, 2])) == nil)
    }

    @Test func namesAttributesAndOpsetsThatMakeNoSenseAreRefused() throws {
        func error(_ make: () throws -> Data) -> HedgerowError? {
            do { _ = try ModelLoader.load(try make(), source: "m.onnx"); return nil } catch let e as HedgerowError { return e } catch { return nil }
        }
        let relu = F.node("Relu", ["x"], ["y"], name: "relu")
        // Duplicate initializers, graph inputs, attributes, outputs.
        #expect(error { try F.model(nodes: [F.node("Add", ["x", "w"], ["y"])], inputs: [F.valueInfo("x", [1])], outputs: [F.valueInfo("y", [1])],
                                    initializers: [F.floatTensor("w", [1], [1]), F.floatTensor("w", [1], [2])]) }?.message == "m.onnx: initializer 'w' is defined twice")
        #expect(error { try F.model(nodes: [relu], inputs: [F.valueInfo("x", [1]), F.valueInfo("x", [2])], outputs: [F.valueInfo("y", [1])]) }?.kind == .loadFailed)
        let twice = F.node("Softmax", ["x"], ["y"], name: "sm", attributes: [Self.attribute("axis", int: 0), Self.attribute("axis", int: 1)])
        #expect(error { try F.model(nodes: [twice], inputs: [F.valueInfo("x", [1])], outputs: [F.valueInfo("y", [1])]) }?.message == "m.onnx: node 'sm' (Softmax) has attribute 'axis' twice")
        #expect(error { try F.model(nodes: [relu, F.node("Relu", ["x"], ["y"], name: "again")], inputs: [F.valueInfo("x", [1])], outputs: [F.valueInfo("y", [1])]) }?.kind == .loadFailed)
        #expect(error { try F.model(nodes: [F.node("Relu", ["x"], ["x"])], inputs: [F.valueInfo("x", [1])], outputs: [F.valueInfo("x", [1])]) }?.kind == .loadFailed)
        // Self-loop and missing graph output.
        #expect(error { try F.model(nodes: [F.node("Add", ["x", "y"], ["y"], name: "loop")], inputs: [F.valueInfo("x", [1])], outputs: [F.valueInfo("y", [1])]) }?.kind == .loadFailed)
        #expect(error { try F.model(nodes: [relu], inputs: [F.valueInfo("x", [1])], outputs: [F.valueInfo("nowhere", [1])]) }?.kind == .loadFailed)
        // Opsets: none, negative, huge, two conflicting default-domain imports.
        for version: Int64 in [0, -1, .min, .max, 1 << 40] {
            #expect(error { try F.model(nodes: [relu], inputs: [F.valueInfo("x", [1])], outputs: [F.valueInfo("y", [1])], opset: version) }?.kind == .loadFailed)
        }
        #expect(error {
            var model = try Onnx_ModelProto(serializedBytes: try F.model(nodes: [relu], inputs: [F.valueInfo("x", [1])], outputs: [F.valueInfo("y", [1])]))
            var other = Onnx_OperatorSetIdProto()
            other.domain = "ai.onnx"
            other.version = 7
            model.opsetImport.append(other)
            return try model.serializedData()
        }?.message == "m.onnx imports the default-domain opset more than once, with versions [7, 13]")
        // A graph input whose declared shape cannot be allocated (the warm-up makes zeros of it).
        #expect(error { try F.model(nodes: [relu], inputs: [F.valueInfo("x", [nil, 1 << 40, 1 << 40])], outputs: [F.valueInfo("y", [1])]) }?.message
            == "m.onnx: graph input 'x': shape [1, 1099511627776, 1099511627776] is too large (a tensor holds at most 268435456 elements)")
        // A huge attribute list, an attribute of a kind the runtime does not decode, a foreign domain.
        let long = F.node("Transpose", ["x"], ["y"], name: "t", attributes: [Self.attribute("perm", ints: Array(0..<200_000))])
        let graph = try ModelLoader.load(try F.model(nodes: [long], inputs: [F.valueInfo("x", [1])], outputs: [F.valueInfo("y", [1])]))
        #expect(throws: HedgerowError.self) { try graph.run(["x": Tensor(shape: [1], floats: [0])]) }
        var graphAttribute = Onnx_AttributeProto()
        graphAttribute.name = "body"
        graphAttribute.type = .graph
        #expect(error { try F.model(nodes: [F.node("Relu", ["x"], ["y"], attributes: [graphAttribute])], inputs: [F.valueInfo("x", [1])], outputs: [F.valueInfo("y", [1])]) }?.kind == .loadFailed)
        // Protobuf that is not a model: truncated, an overlong varint, a length field past the end.
        let good = try F.model(nodes: [relu], inputs: [F.valueInfo("x", [1])], outputs: [F.valueInfo("y", [1])])
        #expect(error { good.prefix(good.count / 2) }?.kind == .loadFailed)
        #expect(error { Data([0x08] + [UInt8](repeating: 0xFF, count: 11)) }?.kind == .loadFailed)
        #expect(error { Data([0x3A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x01]) }?.kind == .loadFailed)
        #expect(error { Data() }?.kind == .loadFailed)
    }

    @Test func windowAttributesThatOverflowAreErrors() throws {
        let weights = F.floatTensor("w", [1, 1, 3, 3], [Float](repeating: 1, count: 9))
        func conv(_ attributes: [Onnx_AttributeProto]) -> HedgerowError? {
            loadAndRun(F.node("Conv", ["x", "w"], ["y"], name: "conv", attributes: attributes), x: [1, 1, 4, 4], initializers: [weights])
        }
        #expect(conv([]) == nil)
        #expect(conv([Self.attribute("pads", ints: [.max, .max, .max, .max])]) != nil)
        #expect(conv([Self.attribute("pads", ints: [1 << 27, 1 << 27, 1 << 27, 1 << 27])])?.message.contains("too large") == true)
        #expect(conv([Self.attribute("strides", ints: [.max, .max])]) != nil)
        #expect(conv([Self.attribute("dilations", ints: [1 << 62, 1 << 62])]) != nil)
        #expect(conv([Self.attribute("dilations", ints: [1 << 27, 1 << 27])]) != nil)
        #expect(conv([Self.attribute("kernel_shape", ints: [1 << 40, 1 << 40])])?.message.contains("kernel_shape") == true)
        #expect(conv([Self.attribute("group", int: .max)]) != nil)
        #expect(conv([Self.attribute("group", int: .min)]) != nil)
        func pool(_ op: String, _ attributes: [Onnx_AttributeProto]) -> HedgerowError? {
            loadAndRun(F.node(op, ["x"], ["y"], name: "pool", attributes: attributes), x: [1, 1, 4, 4])
        }
        #expect(pool("MaxPool", [Self.attribute("kernel_shape", ints: [2, 2])]) == nil)
        #expect(pool("MaxPool", [Self.attribute("kernel_shape", ints: [.max, .max])]) != nil)
        #expect(pool("AveragePool", [Self.attribute("kernel_shape", ints: [2, 2]), Self.attribute("pads", ints: [.max, 0, .max, 0])]) != nil)
        #expect(pool("MaxPool", [Self.attribute("kernel_shape", ints: [2, 2]), Self.attribute("strides", ints: [.max, 1]), Self.attribute("ceil_mode", int: 1)]) != nil)
        var autoPad = Onnx_AttributeProto()
        autoPad.name = "auto_pad"
        autoPad.type = .string
        autoPad.s = Data("SAME_UPPER".utf8)
        #expect(pool("MaxPool", [Self.attribute("kernel_shape", ints: [2, 2]), Self.attribute("strides", ints: [.max, .max]), autoPad]) != nil)
    }
}

extension HostileModelTests {
    /// A window far larger than the image, over huge pads and strides: the result comes at once (only the taps
    /// inside the image are visited), and matches the small equivalent.
    @Test func hugeWindowsCostNoMoreThanTheImage() throws {
        let x = Tensor(shape: [1, 1, 2, 2], floats: [1, 4, 3, 2])
        let huge = 1 << 27
        let attributes: [String: AttributeValue] = [
            "kernel_shape": .ints([huge, huge]), "pads": .ints([huge - 2, huge - 2, 0, 0]), "strides": .ints([huge, huge]),
        ]
        let started = ContinuousClock.now
        let pooled = try runKernel("MaxPool", [x], attributes)[0]
        #expect(pooled == Tensor(shape: [1, 1, 1, 1], floats: [4]))
        let averaged = try runKernel("AveragePool", [x], attributes)[0]
        #expect(averaged == Tensor(shape: [1, 1, 1, 1], floats: [2.5]))
        #expect(ContinuousClock.now - started < .seconds(5))
    }

    /// float16/float64/bfloat16 tensors and the widened attribute types (uint8, int16, double) must hold exactly
    /// the values their dims say, whatever field carries them.
    @Test func wideAndNarrowTypesThatLieAboutTheirLengthAreRefused() throws {
        for type: Int32 in [10, 11, 16] {
            var raw = Onnx_TensorProto()
            raw.dims = [3]; raw.dataType = type; raw.rawData = Data(count: 5)
            #expect(throws: HedgerowError.self) { try TensorDecoding.decode(raw, what: "t") }
            var typed = Onnx_TensorProto()
            typed.dims = [1 << 20]; typed.dataType = type; typed.doubleData = [1]; typed.int32Data = [1]
            #expect(throws: HedgerowError.self) { try TensorDecoding.decode(typed, what: "t") }
        }
        for type: Int32 in [2, 3, 4, 5, 11] {
            var raw = Onnx_TensorProto()
            raw.dims = [4]; raw.dataType = type; raw.rawData = Data(count: 3)
            #expect(throws: HedgerowError.self) { try TensorDecoding.decodeWidening(raw, what: "t") }
            var huge = Onnx_TensorProto()
            huge.dims = [Int64.max, 2]; huge.dataType = type
            #expect(throws: HedgerowError.self) { try TensorDecoding.decodeWidening(huge, what: "t") }
        }
        // Decoded right: uint8 modes widen, float64 and float16 narrow and widen to float32.
        var modes = Onnx_TensorProto()
        modes.dims = [3]; modes.dataType = 2; modes.rawData = Data([0, 6, 255])
        #expect(try TensorDecoding.decodeWidening(modes, what: "t").int64s("") == [0, 6, 255])
        var half = Onnx_TensorProto()
        half.dims = [3]; half.dataType = 10; half.int32Data = [0x3C00, 0xC000, 0x7C00]
        #expect(try TensorDecoding.decode(half, what: "t").floats("") == [1, -2, .infinity])
    }
}
