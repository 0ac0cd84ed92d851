import HedgerowCore
import NIOConcurrencyHelpers

/// The workers the synchronizer knows: the static list of the desired state plus those that registered by
/// heartbeat. A worker is alive while it heartbeats or answers `GET /admin/state`; after `deadAfter` seconds of
/// neither, it is dead and its replicas leave the routes.
public final class WorkerInventory: Sendable {
    public struct Entry: Sendable, Equatable {
        public var name: String
        public var address: String
        public var zone: String
        public var memoryMB: Int
        public var lastSeen: Double?
        public var isStatic: Bool
    }

    private let entries = NIOLockedValueBox<[String: Entry]>([:])
    public let deadAfter: Double

    public init(deadAfter: Double) {
        self.deadAfter = deadAfter
    }

    /// Replaces the static part (from a newly applied desired state); registered workers stay.
    public func setStatic(_ workers: [DesiredState.StaticWorker]) {
        entries.withLockedValue { entries in
            for (name, entry) in entries where entry.isStatic && !workers.contains(where: { $0.name == name }) { entries[name] = nil }
            for w in workers {
                let lastSeen = entries[w.name]?.lastSeen
                entries[w.name] = Entry(name: w.name, address: w.address, zone: w.zone, memoryMB: w.memoryMB, lastSeen: lastSeen, isStatic: true)
            }
        }
    }

    public func heartbeat(_ message: WorkerHeartbeat, now: Double) {
        entries.withLockedValue { entries in
            let isStatic = entries[message.name]?.isStatic ?? false
            entries[message.name] = Entry(name: message.name, address: message.address, zone: message.zone, memoryMB: message.memoryMB, lastSeen: now, isStatic: isStatic)
        }
    }

    public func seen(_ name: String, now: Double) {
        entries.withLockedValue { entries in entries[name]?.lastSeen = now }
    }

    public var all: [Entry] { entries.withLockedValue { $0.values.sorted { $0.name < $1.name } } }

    public func isAlive(_ entry: Entry, now: Double) -> Bool {
        guard let lastSeen = entry.lastSeen else { return false }
        return now - lastSeen <= deadAfter
    }

    /// Registered workers silent for much longer than `deadAfter` are forgotten (static ones are kept).
    public func forgetLongGone(now: Double, after seconds: Double = 300) {
        entries.withLockedValue { entries in
            entries = entries.filter { $0.value.isStatic || now - ($0.value.lastSeen ?? now) < seconds }
        }
    }
}
