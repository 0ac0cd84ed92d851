import ArgumentParser

@main
struct Hedgerow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hedgerow",
        abstract: "Serve machine-learning models behind one URL, with hedged requests and a YAML desired state.",
        subcommands: [UpCommand.self, RouterCommand.self, WorkerCommand.self, SynchronizerCommand.self, StatusCommand.self, ClearPoisonCommand.self, BenchCommand.self, PlacementBenchCommand.self, FleetBenchCommand.self, ConformanceCommand.self, RuntimeBenchCommand.self]
    )
}
