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

    /// What became of a heartbeat.
    public enum HeartbeatDecision: Sendable, Equatable {
        /// Recorded: a new name, the same worker again (same address: a heartbeat or a restart), or a takeover of
        /// a name whose previous holder is dead.
        case accepted
        /// Refused, with the message for the sender (409): the name belongs to a live worker elsewhere, or to a
        /// static worker of the desired state at another address.
        case conflict(String)
        /// Refused (503): the inventory holds `maxRegistered` registered workers already.
        case full(String)
    }

    /// Registered (non-static) workers kept at most: a flood of heartbeats under fresh names cannot grow the
    /// synchronizer's memory or its reconcile round without bound.
    public static let maxRegistered = 16384

    /// Records a heartbeat, unless it would take a name from another worker.
    ///
    /// A worker's name is what the synchronizer sends admin calls (with the bearer token) for, to the address on
    /// record. So a name is held by one address: the same name from the same address is the same worker (or its
    /// restart) and refreshes it; from another address it is refused while the holder is alive, and taken over
    /// once the holder is dead (no heartbeat or admin answer for `deadAfter`). Names declared in the desired
    /// state are held by the address declared there, alive or not: only the file moves them. The message is
    /// expected to be valid (`WorkerIdentity.validate`).
    @discardableResult
    public func heartbeat(_ message: WorkerHeartbeat, now: Double) -> HeartbeatDecision {
        entries.withLockedValue { entries in
            // Counting is O(workers): only a name heard for the first time needs the count.
            let holder = entries[message.name]
            let registered = holder == nil ? entries.values.count(where: { !$0.isStatic }) : 0
            let decision = Self.decide(message, holder: holder, registered: registered, now: now, deadAfter: deadAfter)
            guard decision == .accepted else { return decision }
            // A static worker keeps the address as the desired state spells it (the heartbeat's may differ in case).
            let isStatic = holder?.isStatic ?? false
            let address = isStatic ? holder?.address ?? message.address : message.address
            entries[message.name] = Entry(name: message.name, address: address, zone: message.zone, memoryMB: message.memoryMB, lastSeen: now, isStatic: isStatic)
            return .accepted
        }
    }

    /// The rule of `heartbeat(_:now:)` as a pure function of the heartbeat and the name's current holder.
    public static func decide(_ message: WorkerHeartbeat, holder: Entry?, registered: Int, now: Double, deadAfter: Double) -> HeartbeatDecision {
        guard let holder else {
            if registered >= maxRegistered {
                return .full("the synchronizer already knows \(maxRegistered) registered workers; try again once dead ones are forgotten")
            }
            return .accepted
        }
        if WorkerIdentity.sameAddress(holder.address, message.address) { return .accepted }
        if holder.isStatic {
            return .conflict("worker name '\(holder.name)' is declared in the desired state at \(holder.address); a worker at \(message.address) cannot use it (start it with another --name, or change the desired state)")
        }
        if let lastSeen = holder.lastSeen, now - lastSeen <= deadAfter {
            return .conflict("worker name '\(holder.name)' is held by a live worker at \(holder.address); a worker at \(message.address) cannot take it (start it with another --name, or stop the other one: a name is free \(deadAfter) s after its holder's last sign of life)")
        }
        return .accepted
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

/// What a worker may call itself and where it may say it listens. Heartbeats come from the network, so every
/// field is checked before it reaches the inventory, a log line or an admin call.
public enum WorkerIdentity {
    /// Throws a 400 naming the field when the heartbeat is not acceptable: the name and zone follow the model-name
    /// rules (1-128 of `A-Z a-z 0-9 _ . -`, starting with a letter or digit), the address is `HOST:PORT` with a port
    /// in 1-65535 (see `parseAddress`), memory is 0...2^40 MiB.
    public static func validate(_ message: WorkerHeartbeat) throws(HedgerowError) {
        guard ModelName.isValid(message.name) else {
            throw HedgerowError(.badRequest, "heartbeat: invalid worker name \(ModelName.quoted(message.name)): use 1-128 characters of A-Z a-z 0-9 _ . -, starting with a letter or digit")
        }
        guard parseAddress(message.address) != nil else {
            throw HedgerowError(.badRequest, "heartbeat: invalid address \(ModelName.quoted(message.address)): expected HOST:PORT (a host name, IPv4 or [IPv6] address, and a port from 1 to 65535)")
        }
        guard ModelName.isValid(message.zone) else {
            throw HedgerowError(.badRequest, "heartbeat: invalid zone \(ModelName.quoted(message.zone)): use 1-128 characters of A-Z a-z 0-9 _ . -, starting with a letter or digit")
        }
        guard (0...(1 << 40)).contains(message.memoryMB) else {
            throw HedgerowError(.badRequest, "heartbeat: memoryMB \(message.memoryMB) is out of range (0 to \(1 << 40))")
        }
    }

    /// `host:port` with a host of letters, digits, `.`, `-` (a name or IPv4 address, at most 253 characters), or an
    /// IPv6 address (hex digits, `:` and `.`) with or without brackets, and a port of 1-5 digits without sign or
    /// leading zero in 1-65535. nil for anything else (spaces, `@`, `/`, `%`, control characters, port 0).
    public static func parseAddress(_ text: String) -> (host: String, port: Int)? {
        let host: Substring, portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
            guard host.contains(":"), host.utf8.allSatisfy(isIPv6Byte) else { return nil }
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            let isName = host.utf8.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
            guard isName || (host.contains(":") && host.utf8.allSatisfy(isIPv6Byte)) else { return nil }
        }
        guard !host.isEmpty, host.utf8.count <= 253, let first = portText.utf8.first, first != UInt8(ascii: "0"), portText.utf8.count <= 5,
              portText.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
              let port = Int(portText), (1...65535).contains(port) else { return nil }
        return (String(host), port)
    }

    /// Whether two addresses name the same listener: same port, same host ignoring ASCII case and IPv6 brackets.
    public static func sameAddress(_ a: String, _ b: String) -> Bool {
        guard let x = parseAddress(a), let y = parseAddress(b) else { return a == b }
        return x.port == y.port && x.host.lowercased() == y.host.lowercased()
    }

    private static func isAlphanumeric(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
            || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))
    }

    private static func isIPv6Byte(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "f"))
            || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "F")) || c == UInt8(ascii: ":") || c == UInt8(ascii: ".")
    }
}
