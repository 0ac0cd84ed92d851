import Foundation
import HedgerowCore
@testable import HedgerowRuntime
import Testing

/// The load-time graph passes: each on hand-built graphs (it changes what it should, leaves alone what it must, and
/// the graph computes the same before and after), and all of them on every example model against the graph as
/// written, on the model's own reference inputs. (The ONNX conformance cases run on optimized graphs too.)
@Suite struct GraphOptimizerTests {
    static func attribute(_ name: String, _ value: Float) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .float
        a.f = value
        return a
    }

    /// Both loads of `data` on `feeds`: optimized and as written.
    static func both(_ data: Data, _ feeds: [String: Tensor]) throws -> (optimized: ModelGraph, same: Bool, worst: Float) {
        let optimized = try ModelLoader.load(data), written = try ModelLoader.load(data, optimize: false)
        let a = try optimized.run(feeds), b = try written.run(feeds)
        var worst: Float = 0
        var same = Set(a.keys) == Set(b.keys)
        for (name, tensor) in b {
            guard let other = a[name], other.shape == tensor.shape, other.elementType == tensor.elementType else { same = false; continue }
            if case .float32(let x) = other.storage, case .float32(let y) = tensor.storage {
                for (p, q) in zip(x, y) where !(p.isNaN && q.isNaN) { worst = max(worst, abs(p - q) / max(1, abs(q))) }
            } else if other != tensor {
                same = false
            }
        }
        return (optimized, same, worst)
    }

    /// x [1, 2, 3, 3] → Conv (2 filters 3×3, pad 1, bias) → BatchNormalization → `activation` → y; with
    /// `extraReader`, the Conv's output is also read by a Sigmoid (a second graph output).
    static func convModel(activation: String?, extraReader: Bool = false) throws -> Data {
        let w = ModelFixtures.floatTensor("w", [2, 2, 3, 3], (0..<36).map { Float($0 % 7) * 0.1 - 0.3 })
        let b = ModelFixtures.floatTensor("b", [2], [0.5, -0.25])
        let params = [("scale", [Float(1.5), 0.5]), ("shift", [0.1, -0.2]), ("mean", [0.3, -0.1]), ("var", [2.0, 0.25])].map { ModelFixtures.floatTensor($0.0, [2], $0.1) }
        var pads = Onnx_AttributeProto()
        pads.name = "pads"; pads.type = .ints; pads.ints = [1, 1, 1, 1]
        var nodes = [
            ModelFixtures.node("Conv", ["x", "w", "b"], ["c"], name: "conv", attributes: [pads]),
            ModelFixtures.node("BatchNormalization", ["c", "scale", "shift", "mean", "var"], ["n"], name: "bn", attributes: [attribute("epsilon", 1e-3)]),
        ]
        var last = "n"
        if let activation {
            let attributes = activation == "LeakyRelu" ? [attribute("alpha", 0.2)] : activation == "HardSigmoid" ? [attribute("alpha", 0.3), attribute("beta", 0.4)] : []
            let inputs = activation == "Clip" ? ["n", "low", "high"] : ["n"]
            nodes.append(ModelFixtures.node(activation, inputs, ["y"], name: "act", attributes: attributes))
            last = "y"
        }
        var outputs = [ModelFixtures.valueInfo(last, [1, 2, 3, 3])]
        if extraReader {
            nodes.append(ModelFixtures.node("Sigmoid", ["c"], ["z"], name: "other"))
            outputs.append(ModelFixtures.valueInfo("z", [1, 2, 3, 3]))
        }
        let bounds = [ModelFixtures.floatTensor("low", [], [-0.2]), ModelFixtures.floatTensor("high", [], [0.6])]
        return try ModelFixtures.model(nodes: nodes, inputs: [ModelFixtures.valueInfo("x", [1, 2, 3, 3])], outputs: outputs,
                                       initializers: [w, b] + params + (activation == "Clip" ? bounds : []), opset: 13)
    }

    static let image = Tensor(shape: [1, 2, 3, 3], floats: (0..<18).map { Float($0) * 0.37 - 3 })

    @Test func convBatchNormAndActivationBecomeOneConv() throws {
        for activation in ["Relu", "LeakyRelu", "Clip", "HardSigmoid", "HardSwish"] {
            let (graph, same, worst) = try Self.both(try Self.convModel(activation: activation), ["x": Self.image])
            #expect(same && worst < 1e-6, "\(activation): outputs differ by \(worst)")
            #expect(graph.nodes.map(\.opType) == ["Conv"], "\(activation): \(graph.nodes.map(\.opType))")
            #expect(graph.optimizations.contains { $0.hasPrefix("conv-batchnorm-folding: 1 BatchNormalization") })
            #expect(graph.optimizations.contains { $0.hasPrefix("activation-fusion: 1 activations applied inside the node before them (1 \(activation) into Conv)") }, "\(graph.optimizations)")
            // The folded weights replace the originals, which nothing reads any more: weights are held once.
            #expect(graph.initializers["w"] == nil && graph.initializers.count == 2, "\(graph.initializers.keys.sorted())")
        }
    }

    @Test func aConvOutputReadTwiceIsNotFolded() throws {
        let (graph, same, _) = try Self.both(try Self.convModel(activation: "Relu", extraReader: true), ["x": Self.image])
        #expect(same)
        #expect(graph.nodes.map(\.opType).sorted() == ["BatchNormalization", "Conv", "Relu", "Sigmoid"])
        #expect(graph.optimizations.isEmpty)
    }

    @Test func constantsAreComputedAtLoadAndIdentitiesSkipped() throws {
        // y = Identity(x + (Constant 2 · c)) through Identity: the Constant and the Mul fold, the inner Identity goes,
        // the one producing the graph output stays.
        var constant = Onnx_AttributeProto()
        constant.name = "value"; constant.type = .tensor; constant.t = ModelFixtures.floatTensor("", [1], [2])
        let data = try ModelFixtures.model(
            nodes: [
                ModelFixtures.node("Constant", [], ["two"], name: "two", attributes: [constant]),
                ModelFixtures.node("Mul", ["two", "c"], ["twice"], name: "mul"),
                ModelFixtures.node("Identity", ["x"], ["x2"], name: "inner"),
                ModelFixtures.node("Add", ["x2", "twice"], ["sum"], name: "add"),
                ModelFixtures.node("Identity", ["sum"], ["y"], name: "last"),
            ],
            inputs: [ModelFixtures.valueInfo("x", [nil, 3])], outputs: [ModelFixtures.valueInfo("y", [nil, 3])],
            initializers: [ModelFixtures.floatTensor("c", [3], [1, 2, 3])])
        let (graph, same, worst) = try Self.both(data, ["x": Tensor(shape: [2, 3], floats: [0, 1, 2, 3, 4, 5])])
        #expect(same && worst == 0)
        #expect(graph.nodes.map(\.label) == ["add", "last"])
        #expect(graph.optimizations.contains("constant-folding: 2 nodes computed at load (1 Constant, 1 Mul)"))
        #expect(graph.optimizations.contains("identity-elimination: 1 Identity/Dropout nodes removed"))
        #expect(graph.initializers.keys.sorted() == ["twice"])
    }

    @Test func foldingThatWouldGrowMemoryOrFailIsLeftForTheRequest() throws {
        // ConstantOfShape of [2048, 1024] (2 Mi values, over the folding bound) stays a node; so does a Reshape
        // whose shape is wrong, which fails per request exactly as before.
        let shape = Onnx_TensorProto.with { $0.name = "shape"; $0.dims = [2]; $0.dataType = 7; $0.int64Data = [2048, 1024] }
        let bad = Onnx_TensorProto.with { $0.name = "bad"; $0.dims = [1]; $0.dataType = 7; $0.int64Data = [5] }
        let data = try ModelFixtures.model(
            nodes: [ModelFixtures.node("ConstantOfShape", ["shape"], ["zeros"], name: "big"), ModelFixtures.node("Reshape", ["c", "bad"], ["r"], name: "reshape"),
                    ModelFixtures.node("Identity", ["x"], ["y"], name: "id")],
            inputs: [ModelFixtures.valueInfo("x", [1])], outputs: [ModelFixtures.valueInfo("y", [1]), ModelFixtures.valueInfo("zeros", [2048, 1024]), ModelFixtures.valueInfo("r", [5])],
            initializers: [shape, bad, ModelFixtures.floatTensor("c", [3], [1, 2, 3])])
        let graph = try ModelLoader.load(data)
        #expect(graph.nodes.map(\.label).sorted() == ["big", "id", "reshape"])
        #expect(throws: HedgerowError.self) { try graph.run(["x": Tensor(shape: [1], floats: [1])]) }
    }

    /// x [2, 3, 4] → MatMul W [4, 5] → Add B [5] (the bias on `biasSide`) → y; with `extraReader` the product is
    /// also a graph output, with `computedWeights` W is a graph input instead of an initializer.
    static func denseModel(biasSide: Int = 1, extraReader: Bool = false, computedWeights: Bool = false, activation: String? = nil) throws -> Data {
        let w = ModelFixtures.floatTensor("w", [4, 5], (0..<20).map { Float($0 % 9) * 0.25 - 1 })
        let b = ModelFixtures.floatTensor("b", [5], [0.5, -0.25, 1, 0, -2])
        var outputs = [ModelFixtures.valueInfo("y", [2, 3, 5])]
        if extraReader { outputs.append(ModelFixtures.valueInfo("p", [2, 3, 5])) }
        var inputs = [ModelFixtures.valueInfo("x", [2, 3, 4])]
        if computedWeights { inputs.append(ModelFixtures.valueInfo("w", [4, 5])) }
        var nodes = [ModelFixtures.node("MatMul", ["x", "w"], ["p"], name: "mm"), ModelFixtures.node("Add", biasSide == 1 ? ["p", "b"] : ["b", "p"], [activation == nil ? "y" : "q"], name: "add")]
        if let activation { nodes.append(ModelFixtures.node(activation, ["q"], ["y"], name: "act", attributes: activation == "LeakyRelu" ? [attribute("alpha", 0.1)] : [])) }
        return try ModelFixtures.model(nodes: nodes, inputs: inputs, outputs: outputs, initializers: computedWeights ? [b] : [w, b], opset: 13)
    }

    static let tokens = Tensor(shape: [2, 3, 4], floats: (0..<24).map { Float($0) * 0.31 - 3.5 })

    @Test func aDenseLayersBiasIsAddedInsideTheMatMul() throws {
        for side in [1, 0] {
            let (graph, same, worst) = try Self.both(try Self.denseModel(biasSide: side), ["x": Self.tokens])
            #expect(same && worst < 1e-6, "bias on side \(side): outputs differ by \(worst)")
            #expect(graph.nodes.map(\.opType) == ["MatMul"] && graph.nodes.first?.inputs == ["x", "w", "b"])
            #expect(graph.optimizations.contains("matmul-bias-fusion: 1 bias Adds applied inside the MatMul before them"), "\(graph.optimizations)")
        }
    }

    @Test func aDenseLayerWithItsActivationIsOneMatMul() throws {
        for activation in ["Relu", "LeakyRelu", "HardSwish"] {
            let (graph, same, worst) = try Self.both(try Self.denseModel(activation: activation), ["x": Self.tokens])
            #expect(same && worst < 1e-6, "\(activation): outputs differ by \(worst)")
            #expect(graph.nodes.map(\.opType) == ["MatMul"], "\(activation): \(graph.nodes.map(\.opType))")
            #expect(graph.optimizations.contains("activation-fusion: 1 activations applied inside the node before them (1 \(activation) into MatMul)"), "\(graph.optimizations)")
        }
    }

    @Test func aProductReadTwiceOrComputedWeightsAreNotFused() throws {
        let (shared, same, _) = try Self.both(try Self.denseModel(extraReader: true), ["x": Self.tokens])
        #expect(same && shared.nodes.map(\.opType) == ["MatMul", "Add"] && shared.optimizations.isEmpty)
        let w = Tensor(shape: [4, 5], floats: (0..<20).map { Float($0) * 0.1 })
        let (computed, same2, _) = try Self.both(try Self.denseModel(computedWeights: true), ["x": Self.tokens, "w": w])
        #expect(same2 && computed.nodes.map(\.opType) == ["MatMul", "Add"])
    }

    @Test func aModelThatSetsTheFusedBiasItselfIsRefusedPerRequestNotTrapped() throws {
        // The attribute is Hedgerow's own; a model file that sets it on a MatMul without a fitting bias gets a 400.
        var fused = Onnx_AttributeProto()
        fused.name = LinearAlgebra.fusedBias; fused.type = .int; fused.i = 1
        let data = try ModelFixtures.model(
            nodes: [ModelFixtures.node("MatMul", ["x", "w", "b"], ["y"], name: "mm", attributes: [fused])],
            inputs: [ModelFixtures.valueInfo("x", [2, 3, 4])], outputs: [ModelFixtures.valueInfo("y", [2, 3, 5])],
            initializers: [ModelFixtures.floatTensor("w", [4, 5], [Float](repeating: 1, count: 20)), ModelFixtures.floatTensor("b", [3], [1, 2, 3])], opset: 13)
        let error = #expect(throws: HedgerowError.self) { try ModelLoader.load(data).run(["x": Self.tokens]) }
        #expect(error?.message.contains("fused bias has 3 values for 5 columns") == true, "\(error?.message ?? "")")
    }

    /// x [1, 2, 3, 3] → Conv (2 filters, pad 1) → Mul by `scale` → Add `shift` → Paddle's hard_swish written out
    /// (Add 3 → Clip 0…6 → Mul → Div 6, with `clipHigh` for the Clip's upper bound) → y.
    static func paddleBlock(scale: Onnx_TensorProto, shift: Onnx_TensorProto, clipHigh: Float = 6) throws -> Data {
        let w = ModelFixtures.floatTensor("w", [2, 2, 3, 3], (0..<36).map { Float($0 % 7) * 0.1 - 0.3 })
        let b = ModelFixtures.floatTensor("b", [2], [0.5, -0.25])
        var pads = Onnx_AttributeProto()
        pads.name = "pads"; pads.type = .ints; pads.ints = [1, 1, 1, 1]
        let constants = [("three", Float(3)), ("zero", 0), ("high", clipHigh), ("six", 6)].map { ModelFixtures.floatTensor($0.0, [], [$0.1]) }
        return try ModelFixtures.model(
            nodes: [
                ModelFixtures.node("Conv", ["x", "w", "b"], ["c"], name: "conv", attributes: [pads]),
                ModelFixtures.node("Mul", [scale.name, "c"], ["scaled"], name: "scale"),
                ModelFixtures.node("Add", ["scaled", shift.name], ["a"], name: "shift"),
                ModelFixtures.node("Add", ["a", "three"], ["a3"], name: "plus3"),
                ModelFixtures.node("Clip", ["a3", "zero", "high"], ["clipped"], name: "clip"),
                ModelFixtures.node("Mul", ["a", "clipped"], ["m"], name: "times"),
                ModelFixtures.node("Div", ["m", "six"], ["y"], name: "over6"),
            ],
            inputs: [ModelFixtures.valueInfo("x", [1, 2, 3, 3])], outputs: [ModelFixtures.valueInfo("y", [1, 2, 3, 3])],
            initializers: [w, b, scale, shift] + constants, opset: 13)
    }

    @Test func paddlesScaleShiftAndHardSwishBecomeOneConv() throws {
        let scale = ModelFixtures.floatTensor("s", [1], [1.5]), shift = ModelFixtures.floatTensor("t", [1, 2, 1, 1], [0.25, -0.5])
        let (graph, same, worst) = try Self.both(try Self.paddleBlock(scale: scale, shift: shift), ["x": Self.image])
        #expect(same && worst < 1e-6, "outputs differ by \(worst)")
        #expect(graph.nodes.map(\.opType) == ["Conv"], "\(graph.nodes.map(\.opType))")
        #expect(graph.optimizations.contains("conv-affine-folding: 2 per-channel constants folded into the Conv before them (1 Add, 1 Mul)"), "\(graph.optimizations)")
        #expect(graph.optimizations.contains("hardswish-recognition: 1 Add → Clip → Mul → Div chains replaced by HardSwish"), "\(graph.optimizations)")
    }

    @Test func constantsThatAreNotPerChannelOrAClipThatIsNotHardSwishStay() throws {
        // A scale that varies over the image, and a Clip to 5: neither may be folded.
        let scale = ModelFixtures.floatTensor("s", [1, 2, 3, 3], (0..<18).map { Float($0) * 0.1 }), shift = ModelFixtures.floatTensor("t", [2, 1, 1], [0.25, -0.5])
        let (graph, same, worst) = try Self.both(try Self.paddleBlock(scale: scale, shift: shift, clipHigh: 5), ["x": Self.image])
        #expect(same && worst < 1e-6)
        #expect(graph.nodes.map(\.opType) == ["Conv", "Mul", "Add", "Add", "Clip", "Mul", "Div"], "\(graph.nodes.map(\.opType))")
        #expect(ConvAffineFolding.perChannel([1, 2], shape: [2, 1, 1], filters: 2, outputRank: 4) == [1, 2])
        #expect(ConvAffineFolding.perChannel([1, 2], shape: [1, 1, 2], filters: 2, outputRank: 4) == nil, "varies along the width")
        #expect(ConvAffineFolding.perChannel([1, 2], shape: [2, 1, 1, 1, 1], filters: 2, outputRank: 4) == nil, "would add an axis")
    }

    /// x [1, 2, 6, 5] → Conv (pad 1) → `activation` (with `attributes`) → MaxPool (2×2, stride 2, `poolPads`) → y.
    static func convPoolModel(poolPads: [Int64], activation: String = "Relu", attributes: [Onnx_AttributeProto] = []) throws -> Data {
        let w = ModelFixtures.floatTensor("w", [2, 2, 3, 3], (0..<36).map { Float($0 % 7) * 0.1 - 0.3 })
        let b = ModelFixtures.floatTensor("b", [2], [0.5, -0.25])
        func ints(_ name: String, _ values: [Int64]) -> Onnx_AttributeProto {
            var a = Onnx_AttributeProto()
            a.name = name; a.type = .ints; a.ints = values
            return a
        }
        let pooledHeight = (6 + Int(poolPads[0] + poolPads[2]) - 2) / 2 + 1, pooledWidth = (5 + Int(poolPads[1] + poolPads[3]) - 2) / 2 + 1
        return try ModelFixtures.model(
            nodes: [
                ModelFixtures.node("Conv", ["x", "w", "b"], ["c"], name: "conv", attributes: [ints("pads", [1, 1, 1, 1])]),
                ModelFixtures.node(activation, ["c"], ["r"], name: "act", attributes: attributes),
                ModelFixtures.node("MaxPool", ["r"], ["y"], name: "pool", attributes: [ints("kernel_shape", [2, 2]), ints("strides", [2, 2]), ints("pads", poolPads)]),
            ],
            inputs: [ModelFixtures.valueInfo("x", [1, 2, 6, 5])], outputs: [ModelFixtures.valueInfo("y", [1, 2, Int64(pooledHeight), Int64(pooledWidth)])],
            initializers: [w, b], opset: 13)
    }

    @Test func aConvReluPoolBlockIsOneConv() throws {
        let x = Tensor(shape: [1, 2, 6, 5], floats: (0..<60).map { Float(($0 * 37) % 19) * 0.2 - 1.7 })
        let (graph, same, worst) = try Self.both(try Self.convPoolModel(poolPads: [0, 0, 0, 0]), ["x": x])
        #expect(same && worst == 0, "outputs differ by \(worst)")
        #expect(graph.nodes.map(\.opType) == ["Conv"], "\(graph.nodes.map(\.opType))")
        #expect(graph.optimizations.contains("conv-maxpool-fusion: 1 2×2 MaxPool nodes applied inside the Conv before them"), "\(graph.optimizations)")
        // A padded pool is not the plain 2×2 one: it stays a node.
        let (padded, samePadded, _) = try Self.both(try Self.convPoolModel(poolPads: [0, 0, 1, 1]), ["x": x])
        #expect(samePadded && padded.nodes.map(\.opType) == ["Conv", "MaxPool"], "\(padded.nodes.map(\.opType))")
    }

    /// The fused pool runs before an activation that keeps the order of values and after one that does not; either
    /// way the block computes what the three nodes did, NaN included.
    @Test(arguments: [("Relu", Float?.none), ("LeakyRelu", 0.2), ("LeakyRelu", -0.5), ("HardSigmoid", 0.3), ("HardSigmoid", -0.3), ("HardSwish", nil)])
    func aPoolFusedWithAnyActivationComputesTheSame(activation: String, alpha: Float?) throws {
        var x = (0..<60).map { Float(($0 * 37) % 19) * 0.2 - 1.7 }
        x[13] = .nan
        let attributes = alpha.map { [Self.attribute("alpha", $0)] } ?? []
        let model = try Self.convPoolModel(poolPads: [0, 0, 0, 0], activation: activation, attributes: attributes)
        let (graph, same, worst) = try Self.both(model, ["x": Tensor(shape: [1, 2, 6, 5], floats: x)])
        #expect(same && worst == 0, "\(activation) \(alpha.map { "\($0)" } ?? ""): outputs differ by \(worst)")
        #expect(graph.nodes.map(\.opType) == ["Conv"], "\(graph.nodes.map(\.opType))")
        let conv = try #require(graph.nodes.first)
        #expect(FusedActivation.keepsOrder(conv) == (activation != "HardSwish" && (alpha ?? 0) >= 0), "\(activation) \(String(describing: alpha))")
    }

    static let examples = ["digits", "digits-cnn", "encoder", "recommender", "iris-logreg", "iris-forest", "diabetes-gbr", "churn-pipeline", "iris-xgboost", "cancer-lightgbm"]

    @Test(arguments: examples)
    func everyExampleComputesTheSameOptimized(_ model: String) throws {
        let dir = ExampleModelsTests.models.appendingPathComponent("\(model)/1")
        let data = try Data(contentsOf: dir.appendingPathComponent("model.onnx"))
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("reference.json"))) as? [String: Any])
        let inputs = try #require(json["inputs"] as? [String: Any])
        let graph = try ModelLoader.load(data, optimize: false)
        var feeds: [String: Tensor] = [:]
        for signature in graph.inputs {
            feeds[signature.name] = ClassicMLExampleModelsTests.tensor(try #require(inputs[signature.name]), signature.elementType)
        }
        let (optimized, same, worst) = try Self.both(data, feeds)
        #expect(same && worst < 1e-5, "\(model): outputs differ by \(worst)")
        if model == "digits-cnn" {
            // Conv → BatchNormalization → Relu twice: each block is one Conv now.
            #expect(optimized.optimizations.contains { $0.hasPrefix("conv-batchnorm-folding: 2 ") }, "\(optimized.optimizations)")
            #expect(optimized.optimizations.contains { $0.hasPrefix("activation-fusion: 3 activations applied inside the node before them (2 Relu into Conv, 1 Relu into Gemm)") }, "\(optimized.optimizations)")
            #expect(optimized.optimizations.contains { $0.hasPrefix("conv-maxpool-fusion: 2 ") }, "\(optimized.optimizations)")
            #expect(optimized.nodes.map(\.opType) == ["Conv", "Conv", "Flatten", "Gemm", "Gemm", "Softmax"], "\(optimized.nodes.map(\.opType))")
        }
        if model == "encoder" {
            // Six dense layers over [batch, tokens, width]: each bias Add goes into its MatMul.
            #expect(optimized.optimizations.contains("matmul-bias-fusion: 6 bias Adds applied inside the MatMul before them"), "\(optimized.optimizations)")
        }
        #expect(optimized.weightBytes <= graph.weightBytes + 4096, "\(model): optimizing grew the weights")
    }
}
