import Foundation
import HedgerowCore
import HedgerowHTTP
import HedgerowSynchronizer

/// What one router receives for a one-model edit at fleet size: the whole routing table (what every poll answered
/// before deltas) against the delta (`RoutesUpdate`), both as the synchronizer encodes them.
public struct RoutesDeltaBenchmark {
    public struct Result: Sendable {
        public var models: Int
        public var wholeTableBytes: Int
        public var deltaBytes: Int
        public var deltaSeconds: Double
    }

    public let models: Int
    public let replicas: Int

    public init(models: Int, replicas: Int) {
        (self.models, self.replicas) = (models, replicas)
    }

    public func run() -> Result {
        func routes(_ model: Int, moved: Bool = false) -> RoutingTable.ModelRoutes {
            let addresses = (0..<replicas).map { "10.\((model + $0 + (moved ? 7 : 0)) % 200).\($0).\(model % 250):8701" }
            return RoutingTable.ModelRoutes(versions: ["1": addresses], labels: [:], defaultVersion: 1, hedging: .default,
                                            zones: Dictionary(uniqueKeysWithValues: addresses.enumerated().map { ($1, "zone-\($0 % 3)") }))
        }
        var table = Dictionary(uniqueKeysWithValues: (0..<models).map { ("model-\($0)", routes($0)) })
        let publisher = RoutesPublisher()
        let before = publisher.publish(table)
        table["model-\(models / 2)"] = routes(models / 2, moved: true)
        let after = publisher.publish(table)
        precondition(after == before + 1)
        let whole = HTTPResponse.json(publisher.current).body.readableBytes
        let started = ContinuousClock.now
        let delta = publisher.delta(from: before, to: publisher.current)
        let took = ContinuousClock.now - started
        return Result(models: models, wholeTableBytes: whole, deltaBytes: HTTPResponse.json(delta).body.readableBytes, deltaSeconds: took.inSeconds)
    }
}
