import Foundation
import HedgerowCore
@testable import HedgerowRuntime
import Testing

/// Request tensors are hostile too: their shapes and values come from clients. Each example model gets empty
/// batches, dynamic dimensions of 0 or past the limit, and values no model expects (NaN, ±Inf, ±FLT_MAX, INT64
/// extremes as ids); each must answer or throw a `HedgerowError`, never trap.
@Suite struct HostileRequestTests {
    static let floatExtremes: [Float] = [.nan, .infinity, -.infinity, .greatestFiniteMagnitude, -.greatestFiniteMagnitude, 0, -0.0, .leastNonzeroMagnitude]
    static let intExtremes: [Int64] = [.min, .max, -1, 0, 1 << 62, -(1 << 31)]
    static let stringExtremes = ["", "NaN", "premium", String(repeating: "é", count: 4096), "\u{0}", "-1e40"]

    /// Shapes to try for a signature: its dynamic dimensions at 1 and 2, and a rank the model does not take.
    static func shapes(_ signature: TensorSignature) -> [[Int]] {
        [signature.shape.map { $0 ?? 1 }, signature.shape.map { $0 ?? 2 }, signature.shape.map { $0 ?? 1 } + [1]]
    }

    static func tensor(_ type: ElementType, _ shape: [Int], fill index: Int) -> Tensor {
        let count = shape.reduce(1, *)
        switch type {
        case .float32: return Tensor(shape: shape, floats: (0..<count).map { floatExtremes[($0 + index) % floatExtremes.count] })
        case .int64: return Tensor(shape: shape, int64s: (0..<count).map { intExtremes[($0 + index) % intExtremes.count] })
        case .int32: return Tensor(shape: shape, int32s: (0..<count).map { Int32(truncatingIfNeeded: intExtremes[($0 + index) % intExtremes.count]) })
        case .bool: return Tensor(shape: shape, bools: (0..<count).map { ($0 + index) % 2 == 0 })
        case .string: return Tensor(shape: shape, strings: (0..<count).map { stringExtremes[($0 + index) % stringExtremes.count] })
        }
    }

    @Test(arguments: ["digits", "digits-cnn", "encoder", "recommender", "churn-pipeline", "iris-xgboost", "cancer-lightgbm"])
    func extremeRequestsAnswerOrThrow(_ name: String) throws {
        let graph = try ModelLoader.load(contentsOf: ExampleModelsTests.models.appendingPathComponent("\(name)/1/model.onnx").path)
        // An empty batch answers with empty outputs.
        var empty: [String: Tensor] = [:]
        for input in graph.inputs { empty[input.name] = Tensor.zeros(input.elementType, shape: input.shape.map { $0 ?? 0 }) }
        let outputs = try graph.run(empty)
        #expect(outputs.values.allSatisfy { $0.count == 0 }, "\(name): \(outputs.mapValues(\.shape))")
        // Extreme values in every shape the request may take: an answer or an error, never a trap.
        var refused = 0
        for index in 0..<(3 * Self.floatExtremes.count) {
            var feeds: [String: Tensor] = [:]
            for (i, input) in graph.inputs.enumerated() {
                let candidates = Self.shapes(input)
                feeds[input.name] = Self.tensor(input.elementType, candidates[(index + i) % candidates.count], fill: index)
            }
            do { _ = try graph.run(feeds) } catch { refused += 1 }
        }
        // Wrong ranks are always refused, and the recommender refuses ids outside its tables.
        #expect(refused >= Self.floatExtremes.count)
    }
}
