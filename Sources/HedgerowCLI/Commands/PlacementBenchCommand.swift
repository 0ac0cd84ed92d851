import ArgumentParser
import Foundation
import HedgerowBench

struct PlacementBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-placement",
        abstract: "Time the placement planner on a synthetic fleet, from scratch and after a one-model edit.",
        discussion: "Prints how long each plan took and how many other model versions the edit moved (0 is right). Use a release build."
    )

    @Option(help: "Model versions to place.") var models = 10_000
    @Option(help: "Workers in the fleet (three zones).") var workers = 1_000
    @Option(help: "Replicas per model version.") var replicas = 2
    @Option(help: "Memory per worker, MB (models take 10-500 MB each).") var workerMemoryMb = 64 * 1024

    func validate() throws {
        guard models >= 1, workers >= 1, replicas >= 1, workerMemoryMb >= 1 else { throw ValidationError("every count must be ≥ 1") }
    }

    func run() throws {
        let r = PlacementBenchmark(models: models, workers: workers, replicas: replicas, workerMemoryMB: workerMemoryMb).run()
        print("placement: \(r.models) model versions × \(replicas) replicas over \(r.workers) workers (3 zones, \(workerMemoryMb) MB each)")
        print(String(format: "  full plan:        %.3f s, %d of %d replicas placed", r.fullPlanSeconds, r.replicasPlaced, r.replicasAsked))
        print(String(format: "  one-model edit:   %.3f ms, the edited model gained %d replica(s), %d other model versions moved",
                     r.editPlanSeconds * 1000, r.editedGained, r.othersMoved))
        print(String(format: "    found by comparing every demand (a round's replan): %.3f ms%@", r.editReplanSeconds * 1000,
                     r.replanAgrees ? "" : " (ERROR: a different plan than the named edit's)"))
        print(String(format: "    as a full plan keeping the previous one (no kept state): %.3f ms", r.statelessEditSeconds * 1000))
        let routes = RoutesDeltaBenchmark(models: models, replicas: replicas).run()
        print("routes sent to each router for a one-model edit (\(routes.models) models):")
        print("  whole table:      \(routes.wholeTableBytes) bytes (every poll before deltas)")
        print(String(format: "  delta:            %d bytes (GET /v1/routes?after=N&delta=1), made in %.3f ms", routes.deltaBytes, routes.deltaSeconds * 1000))
    }
}
