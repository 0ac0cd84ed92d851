import Foundation
import HedgerowCore
import SwiftProtobuf

/// Turns the bytes of a `.onnx` file into a checked `ModelGraph`. Every failure is a `.loadFailed` error that
/// names what is wrong (the op and node, the missing value, the unsupported datatype).
public enum ModelLoader {
    /// The default-domain opsets the kernels are written for (the ONNX releases up to 1.16).
    public static let supportedOpsets = 1...21
    /// The ai.onnx.ml opsets the classic-ML kernels are written for (`MLOperators`).
    public static let supportedMLOpsets = 1...5

    /// `optimize`: run the graph passes (`GraphOptimizer`); off only to compare against the graph as written.
    public static func load(contentsOf path: String, optimize: Bool = true) throws(HedgerowError) -> ModelGraph {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw HedgerowError(.loadFailed, "cannot read \(path): \(error.localizedDescription)")
        }
        return try load(data, source: path, optimize: optimize, directory: URL(fileURLWithPath: path).deletingLastPathComponent().path)
    }

    /// The parsed `.onnx` file, for readers that need the file as written (the sharding checks), not a graph.
    static func proto(contentsOf path: String) throws(HedgerowError) -> Onnx_ModelProto {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw HedgerowError(.loadFailed, "cannot read \(path): \(error.localizedDescription)")
        }
        do { return try Onnx_ModelProto(serializedBytes: data) } catch {
            throw HedgerowError(.loadFailed, "\(path) is not a valid ONNX model (protobuf decoding failed: \(error))")
        }
    }

    /// `directory`: where the model's external data files are (`ExternalTensorData`); nil refuses external data.
    public static func load(_ data: Data, source: String = "model", optimize: Bool = true, directory: String? = nil) throws(HedgerowError) -> ModelGraph {
        let proto: Onnx_ModelProto
        do { proto = try Onnx_ModelProto(serializedBytes: data) } catch {
            throw HedgerowError(.loadFailed, "\(source) is not a valid ONNX model (protobuf decoding failed: \(error))")
        }
        return try load(proto, source: source, optimize: optimize, directory: directory)
    }

    /// A parsed model, checked and built: what every load does once the file's bytes are decoded (a sharded entry
    /// edits the parsed graph first: `EntryGraph`).
    static func load(_ proto: Onnx_ModelProto, source: String, optimize: Bool = true, directory: String? = nil) throws(HedgerowError) -> ModelGraph {
        guard proto.hasGraph else { throw HedgerowError(.loadFailed, "\(source) holds no graph") }
        let defaultImports = Set(proto.opsetImport.filter { $0.domain.isEmpty || $0.domain == "ai.onnx" }.map(\.version))
        guard defaultImports.count <= 1 else {
            throw HedgerowError(.loadFailed, "\(source) imports the default-domain opset more than once, with versions \(TensorLimits.describe(defaultImports.sorted().map { Int($0) }))")
        }
        let opset = defaultImports.first.map { Int($0) } ?? 0  // Int64 → Int: exact on 64-bit platforms.
        // A graph of ai.onnx.ml nodes alone may import no default-domain opset (onnxmltools writes XGBoost models
        // so); its opset is 0, and no default-domain kernel is ever asked for.
        let onlyML = proto.graph.node.allSatisfy { $0.domain == MLOperators.domain }
        guard supportedOpsets.contains(opset) || (defaultImports.isEmpty && onlyML) else {
            throw HedgerowError(.loadFailed, defaultImports.isEmpty
                ? "\(source) imports no default-domain opset (opset_import has no entry for it)"
                : "\(source) uses default-domain opset \(opset); Hedgerow supports opsets \(supportedOpsets.lowerBound) to \(supportedOpsets.upperBound) (re-export with one of them)")
        }
        let mlImports = Set(proto.opsetImport.filter { $0.domain == MLOperators.domain }.map(\.version))
        if let ml = mlImports.first(where: { !supportedMLOpsets.contains(Int(clamping: $0)) }) {
            throw HedgerowError(.loadFailed, "\(source) uses \(MLOperators.domain) opset \(ml); Hedgerow supports \(supportedMLOpsets.lowerBound) to \(supportedMLOpsets.upperBound)")
        }
        return try build(proto.graph, opset: opset, source: source, optimize: optimize, directory: directory)
    }

    static func build(_ graph: Onnx_GraphProto, opset: Int, source: String, optimize: Bool = true, directory: String? = nil) throws(HedgerowError) -> ModelGraph {
        var initializers: [String: Tensor] = [:]
        for tensor in graph.initializer {
            guard initializers[tensor.name] == nil else {
                throw HedgerowError(.loadFailed, "\(source): initializer '\(tensor.name)' is defined twice")
            }
            let what = "\(source): initializer '\(tensor.name)'"
            let stored = tensor.dataLocation == .external ? try ExternalTensorData.inlined(tensor, directory: directory, what: what) : tensor
            initializers[tensor.name] = try TensorDecoding.decode(stored, what: what)
        }
        let inputs = try graph.input.filter { initializers[$0.name] == nil }.map { (v: Onnx_ValueInfoProto) throws(HedgerowError) in
            try signature(v, source: source)
        }
        guard Set(inputs.map(\.name)).count == inputs.count else {
            throw HedgerowError(.loadFailed, "\(source): graph inputs \(inputs.map(\.name)) name one value twice")
        }
        // The warm-up runs on zeros of each input's declared shape (dynamic dimensions 1): that shape must be one
        // the runtime may allocate.
        for input in inputs {
            _ = try TensorLimits.count(input.shape.map { $0 ?? 1 }, what: "\(source): graph input '\(input.name)'", kind: .loadFailed)
        }

        var nodes: [Node] = []
        for (index, proto) in graph.node.enumerated() {
            var attributes: [String: AttributeValue] = [:]
            let label = proto.name.isEmpty ? "#\(index)" : proto.name
            for attribute in proto.attribute {
                guard attributes[attribute.name] == nil else {
                    throw HedgerowError(.loadFailed, "\(source): node '\(label)' (\(proto.opType)) has attribute '\(attribute.name)' twice")
                }
                attributes[attribute.name] = try decode(attribute, node: label, source: source, widening: proto.domain == MLOperators.domain)
            }
            nodes.append(Node(name: proto.name, opType: proto.opType, inputs: proto.input, outputs: proto.output, attributes: attributes,
                              domain: proto.domain == "ai.onnx" ? "" : proto.domain))
            if !proto.domain.isEmpty && proto.domain != "ai.onnx" && proto.domain != MLOperators.domain {
                throw HedgerowError(.loadFailed, "\(source): node '\(nodes[index].label)' uses operator domain '\(proto.domain)', which Hedgerow does not support")
            }
        }
        let outputs = try graph.output.map { (v: Onnx_ValueInfoProto) throws(HedgerowError) in
            if case .sequenceType? = v.type.value { return try mapSignature(v, nodes: nodes, source: source) }
            return try signature(v, source: source)
        }
        for zipMap in nodes where zipMap.opType == "ZipMap" && zipMap.domain == MLOperators.domain {
            if let reader = nodes.first(where: { !Set($0.inputs).isDisjoint(with: zipMap.outputs.filter { !$0.isEmpty }) }) {
                throw HedgerowError(.loadFailed, "\(source): node '\(reader.label)' (\(reader.opType)) reads the maps of ZipMap node '\(zipMap.label)'; Hedgerow keeps maps only as graph outputs")
            }
        }
        let written = try GraphOrder.topological(nodes, available: Set(initializers.keys).union(inputs.map(\.name)), source: source)
        for output in outputs where !written.contains(where: { $0.outputs.contains(output.name) }) && initializers[output.name] == nil && !inputs.contains(where: { $0.name == output.name }) {
            throw HedgerowError(.loadFailed, "\(source): graph output '\(output.name)' is produced by no node")
        }
        var draft = GraphDraft(nodes: written, initializers: initializers, inputs: Set(inputs.map(\.name)), outputs: Set(outputs.map(\.name)), opset: opset)
        let optimizations = optimize ? GraphOptimizer.optimize(&draft) : []
        let ordered = draft.nodes
        let kernels = try ordered.map { (node: Node) throws(HedgerowError) -> Kernel in
            if node.domain == MLOperators.domain {
                // Classic-ML kernels are built per node at load: a tree ensemble is flattened into arrays once.
                let built: Kernel?
                do throws(HedgerowError) { built = try MLOperators.kernel(for: node) } catch {
                    throw HedgerowError(.loadFailed, "\(source): \(error.message)")
                }
                guard let built else {
                    throw HedgerowError(.loadFailed, "\(source): unsupported operator '\(MLOperators.domain).\(node.opType)' in node '\(node.label)'")
                }
                return built
            }
            guard let kernel = Operators.kernel(for: node.opType, opset: opset) else {
                throw HedgerowError(.loadFailed, "\(source): unsupported operator '\(node.opType)' in node '\(node.label)'")
            }
            return kernel
        }
        return ModelGraph(
            inputs: inputs, outputs: outputs, nodes: ordered, kernels: kernels, initializers: draft.initializers,
            opsetVersion: opset, optimizations: optimizations
        )
    }

    /// A graph output declared as a sequence of maps: accepted when ZipMap produces it and nothing else reads it
    /// (the runtime answers its [N, C] input, the codecs write the maps; see `ZipMap`).
    private static func mapSignature(_ value: Onnx_ValueInfoProto, nodes: [Node], source: String) throws(HedgerowError) -> TensorSignature {
        let producers = nodes.filter { $0.outputs.contains(value.name) }
        guard producers.count == 1, let producer = producers.first, producer.opType == "ZipMap", producer.domain == MLOperators.domain else {
            throw HedgerowError(.loadFailed, "\(source): graph output '\(value.name)' is a sequence; Hedgerow answers sequences only as ZipMap's maps")
        }
        let keys: [String]
        do throws(HedgerowError) { keys = try ZipMap.mapKeys(of: producer) } catch { throw HedgerowError(.loadFailed, "\(source): \(error.message)") }
        return TensorSignature(name: value.name, elementType: .float32, shape: [nil, keys.count], mapKeys: keys)
    }

    private static func signature(_ value: Onnx_ValueInfoProto, source: String) throws(HedgerowError) -> TensorSignature {
        guard case .tensorType(let tensorType)? = value.type.value else {
            throw HedgerowError(.loadFailed, "\(source): graph value '\(value.name)' is not a tensor (sequences and maps are not supported)")
        }
        guard let type = ElementType(onnx: tensorType.elemType) else {
            throw HedgerowError(.loadFailed, "\(source): graph value '\(value.name)' has datatype \(ElementType.onnxName(tensorType.elemType)), which Hedgerow does not support yet")
        }
        let dims: [Int?] = tensorType.shape.dim.map { dim in
            if case .dimValue(let v)? = dim.value, v > 0 { return Int(v) }  // Int64 → Int: exact on 64-bit platforms.
            return nil
        }
        let wire: [Int32: String] = [10: "FP16", 11: "FP64", 16: "BF16"]
        return TensorSignature(name: value.name, elementType: type, shape: dims, wireType: wire[tensorType.elemType])
    }

    /// `widening`: an ai.onnx.ml node's tensor attributes may be of types the runtime does not compute with
    /// (`TensorDecoding.decodeWidening`).
    private static func decode(_ attribute: Onnx_AttributeProto, node: String, source: String, widening: Bool = false) throws(HedgerowError) -> AttributeValue {
        switch attribute.type {
        case .int: return .int(Int(attribute.i))
        case .float: return .float(attribute.f)
        case .ints: return .ints(attribute.ints.map { Int($0) })
        case .floats: return .floats(attribute.floats)
        case .string: return .string(String(decoding: attribute.s, as: UTF8.self))
        case .strings: return .strings(attribute.strings.map { String(decoding: $0, as: UTF8.self) })
        case .tensor:
            let what = "\(source): attribute '\(attribute.name)' of node '\(node)'"
            return .tensor(try widening ? TensorDecoding.decodeWidening(attribute.t, what: what) : TensorDecoding.decode(attribute.t, what: what))
        default:
            throw HedgerowError(.loadFailed, "\(source): node '\(node)': attribute '\(attribute.name)' has a kind (\(attribute.type)) Hedgerow does not support")
        }
    }
}
