import HedgerowCore
import HedgerowSynchronizer
import Testing

@Suite struct PoisonedVersionsTests {
    let v1 = ModelVersionID(model: try! ModelName("digits"), version: try! ModelVersion(1))
    let v2 = ModelVersionID(model: try! ModelName("digits"), version: try! ModelVersion(2))
    let stamp = PoisonedVersions.FileStamp(size: 100, modified: 5)

    func report(_ name: String, _ states: [(ModelVersionID, ModelVersionState)]) -> [String: WorkerStateReport] {
        [name: WorkerStateReport(name: name, address: "addr-\(name)", zone: "a", memoryMB: 1024,
                                 models: states.map { LoadedModelVersion(model: $0.0.model.rawValue, version: $0.0.version.number, state: $0.1) })]
    }

    func key(_ worker: String, _ id: ModelVersionID) -> Reconciler.ReplicaKey { .init(worker: worker, id: id) }

    @Test func aWorkerThatRefusesConnectionsAfterALoadPoisonsTheVersion() {
        var p = PoisonedVersions()
        let added = p.observe(loadingBefore: [key("w1", v2)], unloadsSent: [], current: [:], refused: ["w1"], stamps: { _ in stamp }, now: 10)
        #expect(added.map(\.id) == [v2])
        #expect(p.isPoisoned(v2))
        #expect(added.first?.reason.contains("w1 died while loading") == true)
        #expect(!p.isPoisoned(v1))
    }

    @Test func aWorkerThatCameBackWithoutTheVersionPoisonsIt() {
        var p = PoisonedVersions()
        let added = p.observe(loadingBefore: [key("w1", v2)], unloadsSent: [], current: report("w1", []), refused: [], stamps: { _ in stamp }, now: 10)
        #expect(added.first?.reason.contains("restarted while loading") == true)
    }

    @Test func stillLoadingFailedOrHungIsNoPoison() {
        var p = PoisonedVersions()
        // Still loading, or the load failed cleanly (FAILED is reported): the worker lived.
        let r1 = p.observe(loadingBefore: [key("w1", v2)], unloadsSent: [], current: report("w1", [(v2, .loading)]), refused: [], stamps: { _ in stamp }, now: 1)
        #expect(r1.isEmpty)
        let r2 = p.observe(loadingBefore: [key("w1", v2)], unloadsSent: [], current: report("w1", [(v2, .failed)]), refused: [], stamps: { _ in stamp }, now: 2)
        #expect(r2.isEmpty)
        // Not answering (hung, partitioned) proves nothing.
        let r3 = p.observe(loadingBefore: [key("w1", v2)], unloadsSent: [], current: [:], refused: [], stamps: { _ in stamp }, now: 3)
        #expect(r3.isEmpty)
        #expect(!p.isPoisoned(v2))
    }

    @Test func anUnloadWeSentOrAVersionServingElsewhereIsNoPoison() {
        var p = PoisonedVersions()
        let r4 = p.observe(loadingBefore: [key("w1", v2)], unloadsSent: [key("w1", v2)], current: report("w1", []), refused: [], stamps: { _ in stamp }, now: 1)
        #expect(r4.isEmpty)
        var current = report("w1", [])
        current.merge(report("w2", [(v2, .available)])) { a, _ in a }
        let r5 = p.observe(loadingBefore: [key("w1", v2)], unloadsSent: [], current: current, refused: [], stamps: { _ in stamp }, now: 2)
        #expect(r5.isEmpty)
    }

    @Test func changedFilesLiftItAndSoDoesTheUser() {
        var p = PoisonedVersions()
        _ = p.observe(loadingBefore: [key("w1", v1)], unloadsSent: [], current: [:], refused: ["w1"], stamps: { _ in stamp }, now: 1)
        _ = p.observe(loadingBefore: [key("w2", v2)], unloadsSent: [], current: [:], refused: ["w2"], stamps: { _ in stamp }, now: 2)
        #expect(p.isPoisoned(v1) && p.isPoisoned(v2))
        let r6 = p.liftChanged(stamps: { _ in stamp })
        #expect(r6.isEmpty)
        let lifted = p.liftChanged(stamps: { $0 == v2 ? .init(size: 101, modified: 6) : stamp })
        #expect(lifted.map(\.id) == [v2])
        #expect(!p.isPoisoned(v2))
        let r7 = p.clear(v1)
        #expect(r7)
        let again = p.clear(v1)
        #expect(!again)
        #expect(p.entries.isEmpty)
    }

    @Test func aCrashReportIsAttachedBeforeOrAfterTheDetection() {
        var p = PoisonedVersions()
        p.crashReported(worker: "w1", text: "killed by signal 4 (SIGILL)", now: 9)
        _ = p.observe(loadingBefore: [key("w1", v2)], unloadsSent: [], current: [:], refused: ["w1"], stamps: { _ in stamp }, now: 10)
        #expect(p.entries[v2]?.crashReport == "killed by signal 4 (SIGILL)")

        var q = PoisonedVersions()
        _ = q.observe(loadingBefore: [key("w1", v2)], unloadsSent: [], current: [:], refused: ["w1"], stamps: { _ in stamp }, now: 10)
        q.crashReported(worker: "w1", text: "exited with status 1", now: 11)
        q.crashReported(worker: "w2", text: "other worker", now: 11)
        #expect(q.entries[v2]?.crashReport == "exited with status 1")
        // An old report of a worker is not pinned on a later poisoning.
        var r = PoisonedVersions()
        r.crashReported(worker: "w1", text: "long ago", now: 0)
        _ = r.observe(loadingBefore: [key("w1", v2)], unloadsSent: [], current: [:], refused: ["w1"], stamps: { _ in stamp }, now: 100)
        #expect(r.entries[v2]?.crashReport == nil)
    }

    @Test func severalLoadsAtOneDeathMakeSuspectsAndASecondDeathPoisons() {
        var p = PoisonedVersions()
        let first = p.observe(loadingBefore: [key("w1", v1), key("w1", v2)], unloadsSent: [], current: [:], refused: ["w1"], stamps: { _ in stamp }, now: 1)
        #expect(first.isEmpty)
        #expect(p.suspects == [v1, v2])
        // v1 loads fine meanwhile: no longer a suspect. v2 is loading with v1 again when w2 dies: v2 is poisoned.
        let second = p.observe(
            loadingBefore: [key("w2", v2)], unloadsSent: [], current: report("w1", [(v1, .available)]), refused: ["w2"], stamps: { _ in stamp }, now: 2
        )
        #expect(second.map(\.id) == [v2])
        #expect(!p.isPoisoned(v1))
        #expect(p.suspects.isEmpty)
    }
}
