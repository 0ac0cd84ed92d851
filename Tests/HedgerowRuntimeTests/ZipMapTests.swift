import Foundation
import HedgerowCore
@testable import HedgerowRuntime
import Testing

/// ZipMap: the kernel passes the [N, C] probabilities through, checked against the labels; the loader declares the
/// output with its map keys, and refuses a map that another node reads or a sequence output not made by ZipMap.
@Suite struct ZipMapTests {
    static func attribute(_ name: String, strings: [String]) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .strings
        a.strings = strings.map { Data($0.utf8) }
        return a
    }

    static func mapOutput(_ name: String) -> Onnx_ValueInfoProto {
        var info = Onnx_ValueInfoProto()
        info.name = name
        var value = Onnx_TypeProto()
        value.tensorType.elemType = 1
        var map = Onnx_TypeProto()
        map.mapType.keyType = 8
        map.mapType.valueType = value
        info.type.sequenceType.elemType = map
        return info
    }

    static func model(readers: [Onnx_NodeProto] = [], op: String = "ZipMap") throws -> Data {
        var zip = ModelFixtures.node(op, ["p"], ["maps"], name: "zip", attributes: [attribute("classlabels_strings", strings: ["no", "yes"])])
        zip.domain = MLOperators.domain
        let outputs = readers.isEmpty ? [mapOutput("maps")] : [ModelFixtures.valueInfo("r", [nil, 2])]
        var proto = try Onnx_ModelProto(serializedBytes: try ModelFixtures.model(nodes: [zip] + readers, inputs: [ModelFixtures.valueInfo("p", [nil, 2])], outputs: outputs))
        var ml = Onnx_OperatorSetIdProto()
        ml.domain = MLOperators.domain
        ml.version = 1
        proto.opsetImport.append(ml)
        return try proto.serializedData()
    }

    @Test func theLoaderDeclaresTheMapWithItsKeys() throws {
        let graph = try ModelLoader.load(try Self.model())
        #expect(graph.outputs == [TensorSignature(name: "maps", elementType: .float32, shape: [nil, 2], mapKeys: ["no", "yes"])])
        let out = try graph.run(["p": Tensor(shape: [1, 2], floats: [0.25, 0.75])])
        #expect(try out["maps"]?.floats("maps") == [0.25, 0.75])
        #expect(throws: HedgerowError.self) { try graph.run(["p": Tensor(shape: [1, 3], floats: [0.25, 0.5, 0.25])]) }
    }

    @Test func aMapReadByAnotherNodeOrASequenceNotFromZipMapIsRefused() throws {
        let reader = ModelFixtures.node("Identity", ["maps"], ["r"], name: "reader")
        func loadError(_ data: Data) -> String? {
            do { _ = try ModelLoader.load(data); return nil } catch { return error.message }
        }
        #expect(loadError(try Self.model(readers: [reader]))?.contains("node 'reader' (Identity) reads the maps of ZipMap node 'zip'") == true)
        #expect(loadError(try Self.model(op: "Normalizer"))?.contains("graph output 'maps' is a sequence; Hedgerow answers sequences only as ZipMap's maps") == true)
    }

    @Test func theKernelChecksTheWidthAndTakesOneRow() throws {
        let node = Node(name: "z", opType: "ZipMap", inputs: ["p"], outputs: ["m"], attributes: ["classlabels_int64s": .ints([3, 5, 8])], domain: MLOperators.domain)
        let kernel = try #require(try MLOperators.kernel(for: node))
        #expect(try kernel(node, [Tensor(shape: [3], floats: [0.2, 0.3, 0.5])])[0].shape == [1, 3])
        #expect(throws: HedgerowError.self) { try kernel(node, [Tensor(shape: [1, 2], floats: [0.5, 0.5])]) }
        #expect(throws: HedgerowError.self) { try kernel(node, [Tensor(shape: [1, 3], int64s: [0, 1, 0])]) }
        #expect(try ZipMap.mapKeys(of: node) == ["3", "5", "8"])
    }
}
