import Foundation
import HedgerowCore
import HedgerowRuntime

/// The real graphs the inference targets decode against, loaded once per process from the example repository:
/// `Models/digits/1` (input FP32 [N, 64]), `Models/recommender/1` (inputs `user`, `item` INT64 [N, 1]) and
/// `Models/churn-pipeline/1` (BYTES and FP32 columns in; string labels and ZipMap's maps out).
/// `HEDGEROW_MODELS` overrides where the repository is; by default it is found from this source file's path,
/// which is right for every build made from a checkout.
enum FuzzModels {
    static let all: [(ModelVersionID, ModelGraph)] = ["digits", "recommender", "churn-pipeline"].map { name in
        let path = "\(repository)/\(name)/1/model.onnx"
        do {
            let graph = try ModelLoader.load(contentsOf: path)
            return (ModelVersionID(model: try ModelName(name), version: try ModelVersion(1)), graph)
        } catch {
            fatalError("the fuzz targets need \(path): \(error) (set HEDGEROW_MODELS to the Models directory)")
        }
    }

    static let repository: String = ProcessInfo.processInfo.environment["HEDGEROW_MODELS"]
        ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Models").path
}
