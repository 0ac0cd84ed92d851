import HedgerowCore
import NIOConcurrencyHelpers
import NIOCore

/// Holds the published routing table and answers long-polls: `GET /v1/routes?after=N` waits until the
/// generation differs from N (or `maxWait` passes, then answers the current table).
///
/// The generation grows by one on every change of the table's content, never otherwise, so routers can tell
/// "nothing new" from "new table" by the number alone. A synchronizer starts counting from the wall clock in
/// milliseconds, so a restarted one continues above every generation its previous run published (a run would
/// have to publish more tables than milliseconds passed to collide); a poll naming a generation above the current
/// one (a clock set back) is still answered at once.
///
/// Routers that ask for deltas (`update(after:)`) get only the models changed since their generation while the
/// last `historyLimit` changes cover it (each change remembers which models it touched), else the whole table.
///
/// Nothing is answered before the first `publish`: a synchronizer that just started has not yet heard from its
/// workers, and an empty or partial table would take every replica out of the routers. Polls made before then
/// wait; if `maxWait` passes first they fail with `NotReady`, and routers keep serving the table they have.
public final class RoutesPublisher: Sendable {
    /// The synchronizer has not published its first table yet.
    public struct NotReady: Error, CustomStringConvertible {
        public var description: String { "the synchronizer is starting and has not published routes yet; keep the table you have" }
    }

    private struct State {
        var table: RoutingTable
        var published = false
        var waiters: [(after: Int, promise: EventLoopPromise<RoutingTable>)] = []
        /// The models each recent change touched, oldest first, by the generation it made (consecutive).
        var history: [(generation: Int, changed: Set<String>)] = []
    }

    private let state: NIOLockedValueBox<State>
    /// Changes remembered for deltas (a router further behind gets the whole table).
    public let historyLimit: Int

    /// - Parameter firstGeneration: the generation of the (unpublished) empty table; the first change is one above.
    public init(firstGeneration: Int = 1, historyLimit: Int = 1024) {
        state = NIOLockedValueBox(State(table: RoutingTable(generation: firstGeneration, models: [:])))
        self.historyLimit = max(0, historyLimit)
    }

    public var current: RoutingTable { state.withLockedValue { $0.table } }

    /// Whether a table has been published (polls are answered).
    public var isPublished: Bool { state.withLockedValue { $0.published } }

    /// Publishes `models` if they differ from the current table; returns the generation in force.
    @discardableResult
    public func publish(_ models: [String: RoutingTable.ModelRoutes]) -> Int {
        let (table, ready) = state.withLockedValue { state -> (RoutingTable, [EventLoopPromise<RoutingTable>]) in
            let old = state.table.models
            let touched = Set(models.keys.filter { old[$0] != models[$0] }).union(old.keys.filter { models[$0] == nil })
            guard !touched.isEmpty || !state.published else { return (state.table, []) }
            state.published = true
            if !touched.isEmpty {
                state.table = RoutingTable(generation: state.table.generation + 1, models: models)
                state.history.append((state.table.generation, touched))
                if state.history.count > historyLimit { state.history.removeFirst(state.history.count - historyLimit) }
            }
            let table = state.table
            let ready = state.waiters.filter { $0.after != table.generation }.map(\.promise)
            state.waiters.removeAll { $0.after != table.generation }
            return (table, ready)
        }
        for promise in ready { promise.succeed(table) }
        return table.generation
    }

    /// As `table(after:)`, as a delta from `after` when the history covers it.
    public func update(after: Int, on loop: any EventLoop, maxWait: TimeAmount = .seconds(30)) -> EventLoopFuture<RoutesUpdate> {
        table(after: after, on: loop, maxWait: maxWait).map { [self] table in delta(from: after, to: table) }
    }

    /// What moves a router at `after` to `table`: the models changed in between when every change since `after` is
    /// remembered, else the whole table.
    public func delta(from after: Int, to table: RoutingTable) -> RoutesUpdate {
        if after == table.generation { return RoutesUpdate(generation: after, after: after, models: [:], removed: []) }
        let touched = state.withLockedValue { state -> Set<String>? in
            guard after < table.generation, let first = state.history.firstIndex(where: { $0.generation == after + 1 }),
                  let last = state.history.lastIndex(where: { $0.generation == table.generation }), first <= last else { return nil }
            return state.history[first...last].reduce(into: Set<String>()) { $0.formUnion($1.changed) }
        }
        guard let touched else { return RoutesUpdate(table) }
        return RoutesUpdate(
            generation: table.generation, after: after,
            models: Dictionary(uniqueKeysWithValues: touched.compactMap { name in table.models[name].map { (name, $0) } }),
            removed: touched.filter { table.models[$0] == nil }.sorted()
        )
    }

    /// The current table if its generation differs from `after`, else the next one (or the current after `maxWait`).
    public func table(after: Int, on loop: any EventLoop, maxWait: TimeAmount = .seconds(30)) -> EventLoopFuture<RoutingTable> {
        let promise = loop.makePromise(of: RoutingTable.self)
        let immediate = state.withLockedValue { state -> RoutingTable? in
            if state.published && state.table.generation != after { return state.table }
            state.waiters.append((after, promise))
            return nil
        }
        if let immediate {
            promise.succeed(immediate)
            return promise.futureResult
        }
        let timeout = loop.scheduleTask(in: maxWait) { [self] in
            if isPublished { promise.succeed(current) } else { promise.fail(NotReady()) }
        }
        promise.futureResult.whenComplete { [state] _ in
            timeout.cancel()
            state.withLockedValue { $0.waiters.removeAll { $0.promise.futureResult === promise.futureResult } }
        }
        return promise.futureResult
    }
}
