import Foundation
import HedgerowCore
import HedgerowHTTP
import HedgerowMetrics
import HedgerowRuntime
import Metrics
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// A sharded entry's side of the lookup protocol (`LookupMessages`): for one inference, one request per shard
/// carrying the deduplicated rows of every table on that shard, all shards at once, each hedged like a router's
/// request (`ShardFetch`), then each sharded Gather's output put together (`ShardedGather`).
///
/// Never default rows: a shard with no replica answering fails the inference with a 503 that names the shard.
/// The addresses come from the synchronizer, which lists only replicas ready at this version's digest, and sends
/// new ones (`LoadRequest.part`) when a shard's replicas move; each shard keeps its own latency window, so a slow
/// shard's hedge delay does not set a fast one's.
final class ShardLookups: Sendable {
    /// Per inference: what each shard is asked, table by table (ascending, no repeats).
    struct Plan: Sendable {
        var perShard: [Int: [String: [Int64]]] = [:]
    }

    let id: ModelVersionID
    let entry: EntryGraph
    let digest: String
    private let addresses: NIOLockedValueBox<[[String]]>
    private let hedgingPolicy: NIOLockedValueBox<HedgingPolicy>
    private let windows: NIOLockedValueBox<[LatencyWindow]>
    private let budget = NIOLockedValueBox(HedgeBudget())
    private let client: HTTP2ClientPool
    private let idsPerLookup: Recorder

    init(id: ModelVersionID, entry: EntryGraph, part: ShardedPart, client: HTTP2ClientPool) {
        self.id = id
        self.entry = entry
        self.digest = part.digest(version: id.version.number)
        self.addresses = NIOLockedValueBox(part.shardAddresses ?? Array(repeating: [], count: part.shards))
        self.hedgingPolicy = NIOLockedValueBox(part.hedging ?? .default)
        self.windows = NIOLockedValueBox(Array(repeating: LatencyWindow(), count: part.shards))
        self.client = client
        self.idsPerLookup = Recorder(label: MetricNames.workerLookupIDs, dimensions: [("model", id.model.rawValue)], aggregate: true)
    }

    /// Each shard's ready replicas, as the synchronizer last sent them.
    var shardAddresses: [[String]] {
        get { addresses.withLockedValue { $0 } }
        set { addresses.withLockedValue { $0 = newValue } }
    }

    /// The model's hedging policy, which its lookups follow (each shard with its own latency window and the
    /// model's budget): `budgetPercent: 0` turns lookup hedging off as it does the router's.
    var hedging: HedgingPolicy {
        get { hedgingPolicy.withLockedValue { $0 } }
        set { hedgingPolicy.withLockedValue { $0 = newValue } }
    }

    /// Takes what a later load call sends for a loaded entry: its shards' addresses and the model's hedging, each
    /// only when the call carries it.
    func adopt(_ part: ShardedPart) {
        if let addresses = part.shardAddresses { shardAddresses = addresses }
        if let policy = part.hedging { hedging = policy }
    }

    /// Reads the ids of a decoded request and groups them by shard. Out-of-range ids are refused here, with the
    /// unsplit model's own 400, before any lookup goes out.
    func plan(_ feeds: [String: Tensor]) throws(HedgerowError) -> Plan {
        var plan = Plan()
        for lookup in entry.lookups {
            guard let ids = feeds[lookup.indices] else {
                throw HedgerowError(.badRequest, "missing input '\(lookup.indices)'")
            }
            for (shard, rows) in try lookup.gather.lookups(ids) {
                let table = lookup.gather.table
                let union = Set(plan.perShard[shard]?[table] ?? []).union(rows)
                plan.perShard[shard, default: [:]][table] = union.sorted()
            }
        }
        return plan
    }

    /// Sends every shard its request at once; the future holds each shard's values, table by table.
    func fetch(_ plan: Plan, deadline: NIODeadline, mayHedge: Bool, on loop: any EventLoop) -> EventLoopFuture<[Int: [String: [Float]]]> {
        let replicas = shardAddresses
        let policy = hedging
        let now = NIODeadline.now().uptimeNanoseconds
        let fetches = plan.perShard.sorted { $0.key < $1.key }.map { shard, tables -> EventLoopFuture<(Int, [String: [Float]])> in
            let names = tables.keys.sorted()
            let request = LookupMessages.Request(digest: digest, tables: names.map { .init(table: $0, rows: tables[$0] ?? []) })
            idsPerLookup.record(request.tables.reduce(0) { $0 + $1.rows.count })
            budget.withLockedValue { $0.deposit(percent: policy.budgetPercent, now: now) }
            let delay = mayHedge ? windows.withLockedValue { HedgeDelay.micros(policy: policy, window: $0[shard], now: now) } : nil
            let fetch = ShardFetch(
                model: id, shard: shard, replicas: shard < replicas.count ? replicas[shard].shuffled() : [], request: request,
                hedgeAfter: delay.map { TimeAmount.microseconds(Int64(clamping: $0)) }, deadline: deadline, client: client, loop: loop,
                mayHedge: { [budget] in budget.withLockedValue { $0.withdraw(percent: policy.budgetPercent, now: NIODeadline.now().uptimeNanoseconds) } },
                answered: { [windows] micros in windows.withLockedValue { $0[shard].record(micros: micros, now: NIODeadline.now().uptimeNanoseconds) } }
            )
            return fetch.start().flatMapThrowing { response throws -> (Int, [String: [Float]]) in
                let expected = names.map { (rows: tables[$0]?.count ?? 0, width: self.width(of: $0)) }
                let values = try LookupMessages.decodeResponse(Data(response.body.readableBytesView), expected: expected)
                return (shard, Dictionary(uniqueKeysWithValues: zip(names, values.map(\.values))))
            }
        }
        return EventLoopFuture.whenAllSucceed(fetches, on: loop).map { Dictionary($0, uniquingKeysWith: { a, _ in a }) }
    }

    /// Each sharded Gather's output from the shards' answers: the values `ModelGraph.suppliedInputs` expects.
    func supplied(_ feeds: [String: Tensor], plan: Plan, answers: [Int: [String: [Float]]]) throws(HedgerowError) -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for lookup in entry.lookups {
            guard let ids = feeds[lookup.indices] else { throw HedgerowError(.badRequest, "missing input '\(lookup.indices)'") }
            let table = lookup.gather.table
            let asked = plan.perShard.compactMapValues { $0[table] }
            let values = answers.compactMapValues { $0[table] }
            out[lookup.output] = try lookup.gather.output(ids, lookups: asked, answers: values)
        }
        return out
    }

    private func width(of table: String) -> Int {
        entry.lookups.first { $0.gather.table == table }?.gather.width ?? 0
    }
}
