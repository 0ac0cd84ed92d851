import Foundation


/// The model repository on disk: `<root>/<model>/<version>/model.onnx`. Names and versions are validated
/// types, so a path built here never leaves `root`.
public struct ModelRepository: Sendable {
    public let root: String

    public init(root: String) {
        self.root = root
    }

    public func modelFile(_ id: ModelVersionID) -> String {
        "\(root)/\(id.model.rawValue)/\(id.version.number)/model.onnx"
    }

    /// The version's optional settings file, next to its model.
    public func configFile(_ id: ModelVersionID) -> String {
        "\(root)/\(id.model.rawValue)/\(id.version.number)/config.yaml"
    }

    /// Size of a version's model file, bytes: the planner's memory estimate until a worker has measured it.
    public func fileSize(_ id: ModelVersionID) -> Int? {
        (try? FileManager.default.attributesOfItem(atPath: modelFile(id)))?[.size] as? Int
    }

    /// Versions present on disk for a model, ascending. Directories that are not positive integers are ignored.
    public func versions(of model: ModelName) -> [ModelVersion] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "\(root)/\(model.rawValue)")) ?? []
        return entries.compactMap { try? ModelVersion(parsing: Substring($0)) }
            .filter { FileManager.default.fileExists(atPath: modelFile(ModelVersionID(model: model, version: $0))) }
            .sorted()
    }
}
