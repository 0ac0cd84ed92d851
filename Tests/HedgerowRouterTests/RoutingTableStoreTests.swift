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

    /// A delta lands only on the generation it was made from, whole, and the cache then holds the merged table; a
    /// delta from another generation changes nothing and says so (the watcher then asks for the whole table).
    @Test func deltasApplyOnlyOntoTheirGeneration() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("routes-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        let store = RoutingTableStore(cacheFile: file)
        var whole = table(10, replica: "10.0.0.1:8701")
        whole.models["other"] = whole.models["digits"]
        #expect(store.apply(RoutesUpdate(whole)) == .installed(cacheProblem: nil))
        let moved = table(11, replica: "10.0.0.9:8701").models
        #expect(store.apply(RoutesUpdate(generation: 12, after: 11, models: moved, removed: [])) == .stale(held: 10))
        #expect(store.current == whole, "a stale delta changes nothing")
        #expect(store.apply(RoutesUpdate(generation: 11, after: 10, models: moved, removed: ["other"])) == .installed(cacheProblem: nil))
        #expect(store.current == table(11, replica: "10.0.0.9:8701"))
        #expect(RoutingTableStore(cacheFile: file).current == table(11, replica: "10.0.0.9:8701"), "the cache is the whole merged table")
    }

    @Test func hostileDeltasAreRefused() {
        func decodes(_ json: String) -> Bool { (try? JSONDecoder().decode(RoutesUpdate.self, from: Data(json.utf8))) != nil }
        #expect(decodes(#"{"generation": 2, "after": 1, "models": {}, "removed": ["digits"]}"#))
        #expect(decodes(#"{"generation": 2, "models": {}}"#), "a whole table, as older synchronizers answer")
        #expect(!decodes(#"{"generation": 2, "after": -1, "models": {}}"#))
        #expect(!decodes(#"{"generation": 2, "after": 1, "models": {}, "removed": ["../etc"]}"#))
        #expect(!decodes(#"{"generation": 2, "models": {}, "removed": ["digits"]}"#), "only a delta removes")
    }
}
