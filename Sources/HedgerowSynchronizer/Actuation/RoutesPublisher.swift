import HedgerowCore
import NIOConcurrencyHelpers
import NIOCore

/// Holds the published routing table and answers long-polls: `GET /v1/routes?after=N` waits until the
/// generation exceeds N (or `maxWait` passes, then answers the current table).
///
/// The generation grows by one on every change of the table's content, never otherwise, so routers can tell
/// "nothing new" from "new table" by the number alone. A poll that names a generation *above* the current one
/// comes from a router that knew a previous run of the synchronizer (generations restart at 1): it is answered at
/// once, so a restarted synchronizer is followed immediately rather than after a poll timeout.
public final class RoutesPublisher: Sendable {
    private struct State {
        var table = RoutingTable(generation: 1, models: [:])
        var waiters: [(after: Int, promise: EventLoopPromise<RoutingTable>)] = []
    }

    private let state = NIOLockedValueBox(State())

    public init() {}

    public var current: RoutingTable { state.withLockedValue { $0.table } }

    /// Publishes `models` if they differ from the current table; returns the generation in force.
    @discardableResult
    public func publish(_ models: [String: RoutingTable.ModelRoutes]) -> Int {
        let (table, ready) = state.withLockedValue { state -> (RoutingTable, [EventLoopPromise<RoutingTable>]) in
            guard state.table.models != models else { return (state.table, []) }
            state.table = RoutingTable(generation: state.table.generation + 1, models: models)
            let table = state.table
            let ready = state.waiters.filter { $0.after < table.generation }.map(\.promise)
            state.waiters.removeAll { $0.after < table.generation }
            return (table, ready)
        }
        for promise in ready { promise.succeed(table) }
        return table.generation
    }

    /// The current table if its generation differs from `after`, else the next one (or the current after `maxWait`).
    public func table(after: Int, on loop: any EventLoop, maxWait: TimeAmount = .seconds(30)) -> EventLoopFuture<RoutingTable> {
        let promise = loop.makePromise(of: RoutingTable.self)
        let immediate = state.withLockedValue { state -> RoutingTable? in
            if state.table.generation != after { return state.table }
            state.waiters.append((after, promise))
            return nil
        }
        if let immediate {
            promise.succeed(immediate)
            return promise.futureResult
        }
        let timeout = loop.scheduleTask(in: maxWait) { [self] in
            promise.succeed(current)
        }
        promise.futureResult.whenComplete { [state] _ in
            timeout.cancel()
            state.withLockedValue { $0.waiters.removeAll { $0.promise.futureResult === promise.futureResult } }
        }
        return promise.futureResult
    }
}
