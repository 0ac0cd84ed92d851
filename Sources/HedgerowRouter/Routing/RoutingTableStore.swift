import Foundation
import HedgerowCore
import NIOConcurrencyHelpers

/// The routing table a router serves from. Read on every request (a lock, no I/O); replaced whole when the
/// synchronizer publishes a newer generation; mirrored to disk so that a restarted router can serve at once
/// even when the synchronizer is down (static stability).
public final class RoutingTableStore: Sendable {
    private let table = NIOLockedValueBox(RoutingTable.empty)
    private let cacheFile: String?

    public init(cacheFile: String?) {
        self.cacheFile = cacheFile
        if let cacheFile, let data = FileManager.default.contents(atPath: cacheFile),
           let cached = try? JSONDecoder().decode(RoutingTable.self, from: data) {
            table.withLockedValue { $0 = cached }
        }
    }

    public var current: RoutingTable { table.withLockedValue { $0 } }

    /// Installs `newTable` and writes it to the cache file. Older generations than the current one are still
    /// taken when the synchronizer restarted (its generations start over) — the synchronizer is the authority.
    /// Returns why the cache file could not be written, if it could not (the table is installed either way).
    @discardableResult
    public func replace(with newTable: RoutingTable) -> String? {
        table.withLockedValue { $0 = newTable }
        return write(newTable)
    }

    public enum UpdateOutcome: Equatable {
        /// Installed; `cacheProblem` says why the cache file was not written, if it was not.
        case installed(cacheProblem: String?)
        /// A delta from another generation than the one held: nothing changed; ask for the whole table.
        case stale(held: Int)
    }

    /// Installs an update from the synchronizer: a whole table as `replace`, a delta only onto the generation it was
    /// made from (checked and merged under the lock, so a request never sees half of it). The cache file is written
    /// whole either way.
    public func apply(_ update: RoutesUpdate) -> UpdateOutcome {
        let result = table.withLockedValue { table -> (installed: RoutingTable?, held: Int) in
            guard let merged = update.applied(to: table) else { return (nil, table.generation) }
            table = merged
            return (merged, merged.generation)
        }
        guard let installed = result.installed else { return .stale(held: result.held) }
        return .installed(cacheProblem: write(installed))
    }

    private func write(_ newTable: RoutingTable) -> String? {
        guard let cacheFile else { return nil }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        guard let data = try? encoder.encode(newTable) else { return "cannot encode the routing table" }
        // Write, then rename(2) over the old file: one atomic step, so a crash mid-write never leaves a torn
        // table behind. (Foundation's replaceItemAt on Linux fails when the file is missing and deletes it when
        // it exists: the cache was never written with it.)
        let temporary = cacheFile + ".tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: data) else { return "cannot write \(temporary)" }
        guard rename(temporary, cacheFile) == 0 else { return "cannot rename \(temporary) to \(cacheFile): errno \(errno)" }
        return nil
    }
}
