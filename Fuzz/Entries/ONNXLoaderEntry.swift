import Foundation
import HedgerowCore
import HedgerowRuntime

extension FuzzEntries {
    /// Inputs of at most this many elements in all are run once; larger ones only load.
    static let runLimit = 4096

    /// A `.onnx` file as the worker loads it; if it loads and its inputs are small, one run on zeros (dynamic
    /// dimensions taken as 1), as a warm-up would.
    public static func onnxLoader(_ bytes: UnsafeRawBufferPointer) {
        guard let graph = try? ModelLoader.load(Data(bytes), source: "fuzz.onnx") else { return }
        var feeds: [String: Tensor] = [:]
        var total = 0
        for input in graph.inputs {
            let shape = input.shape.map { $0 ?? 1 }
            var count = 1
            for d in shape {
                let (product, overflow) = count.multipliedReportingOverflow(by: d)
                guard !overflow, product <= runLimit else { return }
                count = product
            }
            total += count
            guard total <= runLimit else { return }
            feeds[input.name] = Tensor.zeros(input.elementType, shape: shape)
        }
        _ = try? graph.run(feeds)
    }
}
