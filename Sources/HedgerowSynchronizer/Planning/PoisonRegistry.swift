import Foundation
import HedgerowCore
import NIOConcurrencyHelpers

/// The synchronizer's `PoisonedVersions`, shared by the control loop (which detects and lifts poisonings) and the
/// HTTP API (crash reports from a supervisor, clears from the user), behind one lock.
final class PoisonRegistry: Sendable {
    private let state = NIOLockedValueBox(PoisonedVersions())

    func withState<T>(_ body: (inout PoisonedVersions) -> T) -> T { state.withLockedValue(body) }

    var entries: [PoisonedVersions.Entry] { state.withLockedValue { $0.entries.values.sorted { $0.id < $1.id } } }

    func isPoisoned(_ id: ModelVersionID) -> Bool { state.withLockedValue { $0.isPoisoned(id) } }

    /// Size and modification time of a version's model file (and config.yaml, if any), or nil if it is gone.
    static func stamp(_ id: ModelVersionID, in repository: ModelRepository) -> PoisonedVersions.FileStamp? {
        let files = FileManager.default
        guard let model = try? files.attributesOfItem(atPath: repository.modelFile(id)) else { return nil }
        let config = try? files.attributesOfItem(atPath: repository.configFile(id))
        let size = (model[.size] as? Int ?? 0) &+ (config?[.size] as? Int ?? 0)
        let modified = [model, config].compactMap { ($0?[.modificationDate] as? Date)?.timeIntervalSince1970 }.max() ?? 0
        return .init(size: size, modified: modified)
    }
}
