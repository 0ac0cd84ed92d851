import Foundation
import HedgerowCore
import Testing
@testable import HedgerowRouter

@Suite struct RoutingTableStoreTests {
    func table(_ generation: Int, replica: String) -> RoutingTable {
        RoutingTable(generation: generation, models: ["digits": .init(versions: ["1": [replica]], labels: [:], defaultVersion: 1, hedging: .default)])
    }

    /// Static stability: what a router installed is on disk, whole, for its next start, also after the file
    /// existed (a second table replaces the first; nothing is left behind but the cache).
    @Test func theCacheHoldsTheLastTableAcrossRestarts() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("routes-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("routes.json").path

        let store = RoutingTableStore(cacheFile: file)
        #expect(store.current == .empty)
        #expect(store.replace(with: table(3, replica: "10.0.0.1:8701")) == nil)
        #expect(RoutingTableStore(cacheFile: file).current == table(3, replica: "10.0.0.1:8701"))
        #expect(store.replace(with: table(4, replica: "10.0.0.2:8701")) == nil)
        #expect(RoutingTableStore(cacheFile: file).current == table(4, replica: "10.0.0.2:8701"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["routes.json"])
    }

    @Test func aCacheThatCannotBeWrittenIsReportedAndTheTableStillServes() {
        let store = RoutingTableStore(cacheFile: "/nonexistent-dir-\(UUID().uuidString)/routes.json")
        #expect(store.replace(with: table(1, replica: "10.0.0.1:8701")) != nil)
        #expect(store.current.generation == 1)
    }

    @Test func aTornOrHostileCacheIsIgnored() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("routes-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        try Data(#"{"generation": 5, "models": {"digits": {"versions": {"1": ["#.utf8).write(to: URL(fileURLWithPath: file))
        #expect(RoutingTableStore(cacheFile: file).current == .empty)
    }
}
