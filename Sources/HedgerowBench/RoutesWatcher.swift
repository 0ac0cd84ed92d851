import Foundation
import HedgerowCore
import HedgerowHTTP
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Follows a synchronizer's routes as a router does (`GET /v1/routes?after=N&delta=1`, long-polled, deltas merged)
/// and lets a benchmark wait for the table to reach a state. Times are when this process received the table.
final class RoutesWatcher: Sendable {
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private let client: HTTP2ClientPool
    private let current = NIOLockedValueBox(RoutingTable(generation: 0, models: [:]))
    private let task: NIOLockedValueBox<Task<Void, Never>?> = .init(nil)

    private let synchronizer: String

    init(synchronizer: String) {
        self.synchronizer = synchronizer
        client = HTTP2ClientPool(group: group)
        let task = Task { [client, current] in
            var generation = 0
            while !Task.isCancelled {
                let target = generation == 0 ? "/v1/routes?delta=1" : "/v1/routes?after=\(generation)&delta=1"
                guard let response = try? await client.execute(HTTPRequest(method: .GET, target: target), to: synchronizer, timeout: .seconds(40)).response.get(),
                      response.status == .ok,
                      let update = try? JSONDecoder().decode(RoutesUpdate.self, from: Data(response.body.readableBytesView))
                else {
                    try? await Task.sleep(for: .milliseconds(100))
                    continue
                }
                let merged = current.withLockedValue { table -> RoutingTable? in
                    guard let merged = update.applied(to: table) else { return nil }
                    table = merged
                    return merged
                }
                generation = merged?.generation ?? 0  // a delta onto another generation: ask for the whole table
            }
        }
        self.task.withLockedValue { $0 = task }
    }

    var table: RoutingTable { current.withLockedValue { $0 } }

    /// The body of another GET on the synchronizer (`/metrics`), or nil.
    func fetch(_ target: String) async -> String? {
        guard let response = try? await client.execute(HTTPRequest(method: .GET, target: target), to: synchronizer, timeout: .seconds(10)).response.get(),
              response.status == .ok else { return nil }
        return String(buffer: response.body)
    }

    /// Seconds from `start` until `predicate` holds for the table, checked on each new generation; nil after
    /// `timeout` seconds.
    func wait(from start: ContinuousClock.Instant, timeout: Double, until predicate: (RoutingTable) -> Bool) async -> Double? {
        var checked = -1
        while ContinuousClock.now < start + .seconds(timeout) {
            let table = self.table
            if table.generation != checked {
                checked = table.generation
                if predicate(table) { return (ContinuousClock.now - start).inSeconds }
            }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return nil
    }

    func stop() async {
        task.withLockedValue { $0?.cancel() }
        client.shutdown()
        try? await group.shutdownGracefully()
    }
}
