import HedgerowCore
@testable import HedgerowRuntime
import Testing

/// LabelEncoder (opset 1, 2 and 4 attribute forms) and OneHotEncoder on hand-built nodes: lookups, defaults,
/// NaN keys, unknown categories, and inputs of the wrong type refused with a message.
@Suite struct CategoricalEncodersTests {
    func run(_ op: String, _ attributes: [String: AttributeValue], _ input: Tensor) throws -> Tensor {
        let node = Node(name: "n", opType: op, inputs: ["x"], outputs: ["y"], attributes: attributes, domain: MLOperators.domain)
        let kernel = try #require(try MLOperators.kernel(for: node))
        return try kernel(node, [input])[0]
    }

    func loadError(_ op: String, _ attributes: [String: AttributeValue]) -> String? {
        let node = Node(name: "n", opType: op, inputs: ["x"], outputs: ["y"], attributes: attributes, domain: MLOperators.domain)
        do { _ = try MLOperators.kernel(for: node); return nil } catch { return error.message }
    }

    @Test func labelEncoderMapsStringsToIntegersWithTheDefaultForUnknowns() throws {
        // What skl2onnx writes for OrdinalEncoder.
        let attributes: [String: AttributeValue] = ["keys_strings": .strings(["east", "north", "south"]), "values_int64s": .ints([0, 1, 2])]
        let y = try run("LabelEncoder", attributes, Tensor(shape: [2, 2], strings: ["south", "east", "west", "north"]))
        #expect(y.shape == [2, 2])
        #expect(try y.int64s("y") == [2, 0, -1, 1])
        var withDefault = attributes
        withDefault["default_int64"] = .int(99)
        #expect(try run("LabelEncoder", withDefault, Tensor(shape: [1], strings: ["west"])).int64s("y") == [99])
        #expect(throws: HedgerowError.self) { try run("LabelEncoder", attributes, Tensor(shape: [1], int64s: [1])) }
    }

    @Test func labelEncoderMapsNumbersToStringsAndFloats() throws {
        let toText: [String: AttributeValue] = ["keys_int64s": .ints([3, 7]), "values_strings": .strings(["three", "seven"])]
        #expect(try run("LabelEncoder", toText, Tensor(shape: [3], int64s: [7, 3, 5])).strings("y") == ["seven", "three", "_Unused"])
        let floats: [String: AttributeValue] = ["keys_floats": .floats([.nan, 0, 1.5]), "values_floats": .floats([10, 20, 30]), "default_float": .float(-1)]
        // NaN finds the NaN key, -0 finds 0.
        #expect(try run("LabelEncoder", floats, Tensor(shape: [4], floats: [.nan, -0.0, 1.5, 2])).floats("y") == [10, 20, 30, -1])
        let tensors: [String: AttributeValue] = [
            "keys_tensor": .tensor(Tensor(shape: [2], strings: ["a", "b"])), "values_tensor": .tensor(Tensor(shape: [2], int64s: [5, 6])),
            "default_tensor": .tensor(Tensor(shape: [1], int64s: [-7])),
        ]
        #expect(try run("LabelEncoder", tensors, Tensor(shape: [3], strings: ["b", "c", "a"])).int64s("y") == [6, -7, 5])
    }

    @Test func labelEncoderOpsetOneGoesBothWays() throws {
        let attributes: [String: AttributeValue] = ["classes_strings": .strings(["cat", "dog"]), "default_int64": .int(-5)]
        #expect(try run("LabelEncoder", attributes, Tensor(shape: [3], strings: ["dog", "cat", "eel"])).int64s("y") == [1, 0, -5])
        #expect(try run("LabelEncoder", attributes, Tensor(shape: [3], int64s: [1, 0, 9])).strings("y") == ["dog", "cat", "_Unused"])
    }

    @Test func malformedLabelEncodersAreRefusedAtLoad() {
        #expect(loadError("LabelEncoder", ["keys_strings": .strings(["a"])])?.contains("needs keys") == true)
        #expect(loadError("LabelEncoder", ["keys_strings": .strings(["a", "b"]), "values_int64s": .ints([1])])?.contains("2 keys for 1 values") == true)
        #expect(loadError("LabelEncoder", ["keys_strings": .strings(["a"]), "keys_int64s": .ints([1]), "values_int64s": .ints([1])])?.contains("more than one list of keys") == true)
        let badDefault: [String: AttributeValue] = ["keys_strings": .strings(["a"]), "values_int64s": .ints([1]), "default_tensor": .tensor(Tensor(shape: [1], floats: [0]))]
        #expect(loadError("LabelEncoder", badDefault)?.contains("default_tensor must be one INT64 value") == true)
    }

    @Test func oneHotEncoderWritesOneColumnPerCategory() throws {
        let attributes: [String: AttributeValue] = ["cats_strings": .strings(["basic", "plus", "premium"]), "zeros": .int(1)]
        let y = try run("OneHotEncoder", attributes, Tensor(shape: [3, 1], strings: ["plus", "gold", "basic"]))
        #expect(y.shape == [3, 1, 3])
        #expect(try y.floats("y") == [0, 1, 0, 0, 0, 0, 1, 0, 0])
        // zeros = 0: an unknown category is a 400 naming the element.
        var strict = attributes
        strict["zeros"] = .int(0)
        #expect(throws: HedgerowError(.badRequest, "node 'n' (OneHotEncoder): element 1 is not one of the 3 categories the model knows (and the model was exported with zeros=0)")) {
            try run("OneHotEncoder", strict, Tensor(shape: [2], strings: ["plus", "gold"]))
        }
        // Integer categories take floats too, compared as int64.
        let ints: [String: AttributeValue] = ["cats_int64s": .ints([1, 4])]
        #expect(try run("OneHotEncoder", ints, Tensor(shape: [2], floats: [4, 2])).floats("y") == [0, 1, 0, 0])
        #expect(throws: HedgerowError.self) { try run("OneHotEncoder", ints, Tensor(shape: [1], strings: ["4"])) }
        #expect(loadError("OneHotEncoder", [:])?.contains("needs one non-empty list of categories") == true)
    }
}
