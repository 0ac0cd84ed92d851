import HedgerowCore

/// Model versions whose load (or warm-up) took a worker down, kept off every worker until their files change or
/// the user clears them: without this, the synchronizer places such a version on the next worker as soon as the
/// first is dead, and a broken model file walks the fleet.
///
/// A worker "died while loading" a version when, in the round before, the version was LOADING there (or a load
/// had just been sent), and now the worker refuses connections (no process listens) or answers without that
/// version (it restarted and lost it; the synchronizer sent no unload). The blame is only certain when that
/// version was the one load in progress there: then it is poisoned at once. When several were loading, each
/// becomes a suspect, and a suspect whose load is in progress at a second death is poisoned (the good ones clear
/// themselves by becoming AVAILABLE meanwhile). A version AVAILABLE anywhere is never poisoned or suspected: its
/// load demonstrably works. A worker that only stops answering (hung, partitioned) proves nothing.
///
/// Pure: observations, file stamps and time are passed in; the caller does the I/O.
public struct PoisonedVersions: Sendable, Equatable {
    /// What identifies a version's files on disk; a change (a fixed model copied in) lifts the poisoning.
    public struct FileStamp: Sendable, Equatable {
        public var size: Int
        public var modified: Double
        public init(size: Int, modified: Double) {
            self.size = size
            self.modified = modified
        }
    }

    public struct Entry: Sendable, Equatable {
        public var id: ModelVersionID
        public var worker: String
        public var reason: String
        public var since: Double
        public var stamp: FileStamp?
        /// What the worker's supervisor reported of its death (exit status, last log lines), if it did.
        public var crashReport: String?
    }

    public private(set) var entries: [ModelVersionID: Entry] = [:]
    /// Versions that were loading, with others, on a worker that died: poisoned if it happens again.
    public private(set) var suspects: Set<ModelVersionID> = []
    /// The latest crash report of each worker, and when it came (attached to a poisoning within `reportWindow`).
    private var crashReports: [String: (text: String, at: Double)] = [:]
    public var reportWindow: Double = 30

    public init() {}

    public func isPoisoned(_ id: ModelVersionID) -> Bool { entries[id] != nil }

    /// One control round. `loadingBefore` holds the replicas that were LOADING or had a load sent in the round
    /// before; `unloadsSent` the replicas an unload was sent to then; `current` this round's reports of the
    /// workers that answered; `refused` the workers whose connection was refused. Returns the new entries.
    public mutating func observe(
        loadingBefore: Set<Reconciler.ReplicaKey>, unloadsSent: Set<Reconciler.ReplicaKey>, current: [String: WorkerStateReport],
        refused: Set<String>, stamps: (ModelVersionID) -> FileStamp?, now: Double
    ) -> [Entry] {
        var availableSomewhere: Set<ModelVersionID> = []
        for report in current.values {
            for m in report.models where m.state == .available { if let id = m.id { availableSomewhere.insert(id) } }
        }
        suspects.subtract(availableSomewhere)
        // The workers that died, and what was loading on each.
        var died: [String: (reason: String, loading: [ModelVersionID])] = [:]
        for key in loadingBefore.sorted(by: { ($0.id, $0.worker) < ($1.id, $1.worker) }) where !unloadsSent.contains(key) {
            if refused.contains(key.worker) {
                died[key.worker, default: ("died while loading it (its port refuses connections)", [])].loading.append(key.id)
            } else if let report = current[key.worker], !report.models.contains(where: { $0.id == key.id }) {
                died[key.worker, default: ("restarted while loading it (it came back without the version)", [])].loading.append(key.id)
            }
        }
        var added: [Entry] = []
        for (worker, death) in died.sorted(by: { $0.key < $1.key }) {
            let candidates = death.loading.filter { !availableSomewhere.contains($0) && entries[$0] == nil }
            for id in candidates {
                // Loads of versions that serve elsewhere are no suspects: only the unproven ones share the blame.
                let alone = candidates.count == 1
                guard alone || suspects.contains(id) else {
                    suspects.insert(id)
                    continue
                }
                let others = alone ? "" : "; it was loading with \(candidates.filter { $0 != id }.map(\.description).joined(separator: ", ")) and had been suspected before"
                var entry = Entry(id: id, worker: worker, reason: "worker \(worker) \(death.reason)\(others)", since: now, stamp: stamps(id))
                if let report = crashReports[worker], now - report.at <= reportWindow { entry.crashReport = report.text }
                entries[id] = entry
                suspects.remove(id)
                added.append(entry)
            }
        }
        return added
    }

    /// The supervisor of `worker` says how it died; attached to a poisoning of the same moment, before or after.
    public mutating func crashReported(worker: String, text: String, now: Double) {
        crashReports[worker] = (text, now)
        for (id, entry) in entries where entry.worker == worker && entry.crashReport == nil && abs(now - entry.since) <= reportWindow {
            entries[id]?.crashReport = text
        }
    }

    /// Lifts the poisoning of versions whose files changed since (or disappeared). Returns the lifted entries.
    public mutating func liftChanged(stamps: (ModelVersionID) -> FileStamp?) -> [Entry] {
        let lifted = entries.values.filter { stamps($0.id) != $0.stamp }.sorted { $0.id < $1.id }
        for entry in lifted { entries[entry.id] = nil }
        return lifted
    }

    /// The user cleared it; false if it was not poisoned.
    public mutating func clear(_ id: ModelVersionID) -> Bool {
        entries.removeValue(forKey: id) != nil
    }

    public static func == (a: PoisonedVersions, b: PoisonedVersions) -> Bool { a.entries == b.entries && a.suspects == b.suspects }
}
