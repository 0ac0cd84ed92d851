import Foundation
import HedgerowCore
import HedgerowHTTP
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Thousands of `SimulatedWorker`s in this process, each on its own loopback port (so the synchronizer holds one
/// connection set per worker, as with real workers), sharing one event loop group. Each heartbeats once per
/// interval at its own phase, spread evenly over the interval as independent processes would be.
final class SimulatedFleet: Sendable {
    let workers: [SimulatedWorker]
    private let group: MultiThreadedEventLoopGroup
    /// Heartbeat connections: one per pool and event loop.
    private let pools: [HTTP2ClientPool]
    private let heartbeats: NIOLockedValueBox<Task<Void, Never>?> = .init(nil)
    /// Heartbeats answered 200, and the others (refused, full, timed out).
    let heartbeatCounts = NIOLockedValueBox((ok: 0, failed: 0))

    private init(workers: [SimulatedWorker], group: MultiThreadedEventLoopGroup) {
        self.workers = workers
        self.group = group
        pools = (0..<8).map { _ in HTTP2ClientPool(group: group, connectTimeout: .seconds(2)) }
    }

    /// Binds `count` workers on 127.0.0.1, ports chosen by the system, named `sim<first>`, `sim<first + 1>`, ….
    static func start(
        count: Int, first: Int, memoryMB: Int, modelBytes: Int, loadSeconds: Double, adminDelay: TimeAmount, threads: Int
    ) async throws -> SimulatedFleet {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        var logger = Logger(label: "hedgerow.bench.fleet")
        logger.logLevel = .critical
        let zones = ["a", "b", "c"]
        var workers: [SimulatedWorker] = []
        workers.reserveCapacity(count)
        for i in first..<first + count {
            let worker = SimulatedWorker(
                name: String(format: "sim%05d", i), zone: zones[i % zones.count], memoryMB: memoryMB, modelBytes: modelBytes,
                loadSeconds: loadSeconds, adminDelay: adminDelay
            )
            let server = HTTPServer(configuration: HTTPServerConfiguration(host: "127.0.0.1", port: 0), responder: worker, group: group, logger: logger)
            Task { try? await server.run() }
            guard let port = await server.localAddress?.port else {
                try? await group.shutdownGracefully()
                throw BenchError(message: "simulated worker \(i) of \(count) could not bind a loopback port (open files: raise the limit)")
            }
            worker.state.withLockedValue { $0.address = "127.0.0.1:\(port)" }
            workers.append(worker)
        }
        return SimulatedFleet(workers: workers, group: group)
    }

    /// Starts heartbeating to `synchronizer` every `interval` seconds. Like a real worker, each has at most one
    /// heartbeat in flight (a real one sends, waits for the answer, sleeps): a synchronizer that falls behind sees
    /// fewer heartbeats, not a growing queue of them. They go over a few connections, not one per worker: open files
    /// are what bounds the fleet size on one machine.
    func startHeartbeats(to synchronizer: String, interval: Double) {
        let task = Task { [workers, pools, heartbeatCounts] in
            let slots = 100
            let perSlot = (workers.count + slots - 1) / slots
            let slot = Duration.seconds(interval / Double(slots))
            let encoder = JSONEncoder()
            let inFlight = NIOLockedValueBox(Set<Int>())
            while !Task.isCancelled {
                for s in 0..<slots where !Task.isCancelled {
                    let started = ContinuousClock.now
                    for i in min(s * perSlot, workers.count)..<min((s + 1) * perSlot, workers.count) where !workers[i].isSilent {
                        guard inFlight.withLockedValue({ $0.insert(i).inserted }), let body = try? encoder.encode(workers[i].heartbeat) else { continue }
                        let request = HTTPRequest(
                            method: .POST, target: "/v1/workers/heartbeat", headers: ["content-type": "application/json"], body: ByteBuffer(bytes: body)
                        )
                        pools[i % pools.count].execute(request, to: synchronizer, timeout: .seconds(2)).response.whenComplete { result in
                            inFlight.withLockedValue { _ = $0.remove(i) }
                            let ok = (try? result.get().status) == .ok
                            heartbeatCounts.withLockedValue { ok ? ($0.ok += 1) : ($0.failed += 1) }
                        }
                    }
                    try? await Task.sleep(until: started + slot, clock: .continuous)
                }
            }
        }
        heartbeats.withLockedValue { $0 = task }
    }

    func stop() async {
        heartbeats.withLockedValue { $0?.cancel() }
        for pool in pools { pool.shutdown() }
        try? await group.shutdownGracefully()
    }
}
