import HedgerowCore
import HedgerowRuntime
import Testing

@Suite struct BatchAssemblyTests {
    let digits = try! ModelLoader.load(contentsOf: ExampleModelsTests.models.appendingPathComponent("digits/1/model.onnx").path)

    func request(_ rows: Int, seed: Int) -> [String: Tensor] {
        let input = digits.inputs[0]
        let width = input.shape.dropFirst().map { $0 ?? 1 }.reduce(1, *)
        let values = (0..<rows * width).map { Float(($0 * 7 + seed * 13) % 17) }
        return [input.name: Tensor(shape: [rows] + input.shape.dropFirst().map { $0 ?? 1 }, floats: values)]
    }

    @Test func aMergedRunGivesEachRequestWhatItsOwnRunGives() throws {
        let requests = [request(1, seed: 1), request(3, seed: 2), request(2, seed: 3)]
        #expect(BatchAssembly.canBatch(digits))
        let merged = BatchAssembly.merge(requests)
        #expect(merged[digits.inputs[0].name]?.shape.first == 6)
        let outputs = try digits.run(merged)
        let parts = try #require(BatchAssembly.split(outputs, rows: [1, 3, 2]))
        for (request, part) in zip(requests, parts) {
            let alone = try digits.run(request)
            for (name, tensor) in alone {
                let got = try #require(part[name])
                #expect(got.shape == tensor.shape)
                for (a, b) in zip(try got.floats(name), try tensor.floats(name)) {
                    // OpenBLAS blocks a 6-row GEMM differently from a 1-row one, so sums round differently: the
                    // runtime's tolerance against onnxruntime (1e-4), not bit equality.
                    #expect(abs(a - b) <= 1e-4 * max(1, abs(b)))
                }
            }
        }
    }

    @Test func outputsThatAreNotBatchShapedAreNotSplit() {
        let outputs = ["sum": Tensor(shape: [1], floats: [3])]
        #expect(BatchAssembly.split(outputs, rows: [1, 2]) == nil)
    }

    @Test func requestsJoinOnlyWhenShapesAndTypesMatch() {
        let a = BatchAssembly.shape(of: ["x": Tensor(shape: [2, 4], floats: Array(repeating: 0, count: 8))])
        let b = BatchAssembly.shape(of: ["x": Tensor(shape: [5, 4], floats: Array(repeating: 0, count: 20))])
        let c = BatchAssembly.shape(of: ["x": Tensor(shape: [2, 4], int64s: Array(repeating: 0, count: 8))])
        #expect(a?.rows == 2 && b?.rows == 5)
        #expect(a?.key == b?.key)
        #expect(a?.key != c?.key)
        let disagreeing = ["user": Tensor(shape: [2], int64s: [1, 2]), "item": Tensor(shape: [3], int64s: [1, 2, 3])]
        #expect(BatchAssembly.shape(of: disagreeing) == nil, "inputs disagreeing on rows run alone and get the graph's error")
        #expect(BatchAssembly.shape(of: ["x": Tensor(shape: [], floats: [1])]) == nil)
    }
}

@Suite struct BatchAssemblyHostileTests {
    @Test func requestsThatDoNotShareAKeyMergeIntoNothingRatherThanTrap() {
        let a = ["x": Tensor(shape: [1, 2], floats: [1, 2])]
        #expect(BatchAssembly.merge([a, ["y": Tensor(shape: [1, 2], floats: [1, 2])]]).isEmpty)
        #expect(BatchAssembly.merge([a, ["x": Tensor(shape: [1, 2], int64s: [1, 2])]]).isEmpty)
        #expect(BatchAssembly.merge([a, ["x": Tensor(shape: [2], floats: [1, 2])]]).isEmpty)
        #expect(BatchAssembly.merge([a, ["x": Tensor(shape: [], floats: [1])]]).isEmpty)
        #expect(BatchAssembly.merge([a, a])["x"]?.shape == [2, 2])
    }

    @Test func rowCountsThatDoNotFitTheOutputsAreRefused() {
        let outputs = ["y": Tensor(shape: [2, 1], floats: [1, 2])]
        #expect(BatchAssembly.split(outputs, rows: [-1, 3]) == nil)
        #expect(BatchAssembly.split(outputs, rows: [Int.max, Int.min + 2]) == nil)
        #expect(BatchAssembly.split(outputs, rows: [1, 2]) == nil)
        #expect(BatchAssembly.split(outputs, rows: [1, 1])?.count == 2)
    }
}
