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
    public func replace(with newTable: RoutingTable) {
        table.withLockedValue { $0 = newTable }
        guard let cacheFile else { return }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        if let data = try? encoder.encode(newTable) {
            // Write-then-rename so a crash mid-write never leaves a torn table behind.
            let temporary = cacheFile + ".tmp"
            if FileManager.default.createFile(atPath: temporary, contents: data) {
                _ = try? FileManager.default.replaceItemAt(URL(fileURLWithPath: cacheFile), withItemAt: URL(fileURLWithPath: temporary))
            }
        }
    }
}
