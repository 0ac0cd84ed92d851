import Foundation
import HedgerowCore
import HedgerowHTTP
@testable import HedgerowSynchronizer
import NIOConcurrencyHelpers
import NIOCore
import Testing

/// A worker name is held by one address: the synchronizer sends admin calls, with the token, to the address on
/// record, so a heartbeat must not be able to redirect them while the real holder is alive.
@Suite struct WorkerInventoryTests {
    func beat(_ name: String, _ address: String, zone: String = "a") -> WorkerHeartbeat {
        WorkerHeartbeat(name: name, address: address, zone: zone, memoryMB: 1024)
    }

    func entry(_ name: String, _ address: String, lastSeen: Double?, isStatic: Bool = false) -> WorkerInventory.Entry {
        .init(name: name, address: address, zone: "a", memoryMB: 1024, lastSeen: lastSeen, isStatic: isStatic)
    }

    func decide(_ message: WorkerHeartbeat, _ holder: WorkerInventory.Entry?, now: Double = 100, registered: Int = 1) -> WorkerInventory.HeartbeatDecision {
        WorkerInventory.decide(message, holder: holder, registered: registered, now: now, deadAfter: 3)
    }

    func isConflict(_ decision: WorkerInventory.HeartbeatDecision) -> Bool {
        if case .conflict = decision { return true }
        return false
    }

    @Test func aNewNameIsAccepted() {
        #expect(decide(beat("w1", "127.0.0.1:8701"), nil) == .accepted)
    }

    @Test func theSameNameAtTheSameAddressIsTheSameWorkerOrItsRestart() {
        #expect(decide(beat("w1", "127.0.0.1:8701"), entry("w1", "127.0.0.1:8701", lastSeen: 99.5)) == .accepted)
        #expect(decide(beat("w1", "LOCALHOST:8701"), entry("w1", "localhost:8701", lastSeen: 99.5)) == .accepted)
        #expect(decide(beat("w1", "[::1]:8701"), entry("w1", "::1:8701", lastSeen: 99.5)) == .accepted)
        #expect(decide(beat("w1", "127.0.0.1:8701", zone: "b"), entry("w1", "127.0.0.1:8701", lastSeen: 0, isStatic: true)) == .accepted)
    }

    @Test func aLiveHoldersNameCannotBeTakenFromAnotherAddress() {
        let decision = decide(beat("w1", "127.0.0.1:9999"), entry("w1", "127.0.0.1:8701", lastSeen: 98))
        #expect(isConflict(decision))
        if case .conflict(let message) = decision {
            #expect(message.contains("w1") && message.contains("127.0.0.1:8701") && message.contains("127.0.0.1:9999"))
        }
        // Another port on the same host is another worker too.
        #expect(isConflict(decide(beat("w1", "127.0.0.1:8702"), entry("w1", "127.0.0.1:8701", lastSeen: 100))))
        // Right at the dead line the holder still counts as alive.
        #expect(isConflict(decide(beat("w1", "127.0.0.1:9999"), entry("w1", "127.0.0.1:8701", lastSeen: 97))))
    }

    @Test func aDeadHoldersNameCanBeTakenOver() {
        #expect(decide(beat("w1", "127.0.0.1:9999"), entry("w1", "127.0.0.1:8701", lastSeen: 96.9)) == .accepted)
        #expect(decide(beat("w1", "127.0.0.1:9999"), entry("w1", "127.0.0.1:8701", lastSeen: nil)) == .accepted)
    }

    @Test func aStaticWorkersNameStaysAtItsDeclaredAddress() {
        #expect(isConflict(decide(beat("w1", "127.0.0.1:9999"), entry("w1", "127.0.0.1:8701", lastSeen: nil, isStatic: true))))
        #expect(isConflict(decide(beat("w1", "127.0.0.1:9999"), entry("w1", "127.0.0.1:8701", lastSeen: 0, isStatic: true))))
    }

    @Test func registrationsAreBounded() {
        let full = decide(beat("new", "127.0.0.1:1"), nil, registered: WorkerInventory.maxRegistered)
        if case .full = full {} else { Issue.record("expected .full, got \(full)") }
        // A known worker still heartbeats when the inventory is full.
        #expect(decide(beat("w1", "127.0.0.1:8701"), entry("w1", "127.0.0.1:8701", lastSeen: 99), registered: WorkerInventory.maxRegistered) == .accepted)
    }

    @Test func theInventoryAppliesTheRuleAndKeepsTheHoldersAddress() {
        let inventory = WorkerInventory(deadAfter: 3)
        #expect(inventory.heartbeat(beat("w1", "127.0.0.1:8701"), now: 10) == .accepted)
        #expect(isConflict(inventory.heartbeat(beat("w1", "127.0.0.1:6666"), now: 11)))
        #expect(inventory.all.map(\.address) == ["127.0.0.1:8701"])
        #expect(inventory.heartbeat(beat("w1", "127.0.0.1:8701"), now: 12) == .accepted)
        // Silent past deadAfter: the name is free again.
        #expect(inventory.heartbeat(beat("w1", "127.0.0.1:6666"), now: 15.5) == .accepted)
        #expect(inventory.all.map(\.address) == ["127.0.0.1:6666"])
        // Static workers: a heartbeat from elsewhere never moves them, even before they were first seen.
        inventory.setStatic([.init(name: "s1", address: "127.0.0.1:8801", zone: "a", memoryMB: 1024)])
        #expect(isConflict(inventory.heartbeat(beat("s1", "127.0.0.1:6667"), now: 16)))
        #expect(inventory.heartbeat(beat("s1", "127.0.0.1:8801"), now: 16) == .accepted)
        #expect(inventory.all.first { $0.name == "s1" }?.isStatic == true)
    }

    @Test(arguments: ["127.0.0.1:8701", "localhost:1", "worker-3.zone-a.example:65535", "[::1]:8701", "::1:8701", "[fe80::1]:80"])
    func addressesThatParse(_ address: String) {
        #expect(WorkerIdentity.parseAddress(address) != nil)
    }

    @Test(arguments: [
        "", "127.0.0.1", ":8701", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:+80", "127.0.0.1:-1", "127.0.0.1:080",
        "127.0.0.1:99999999999999999999", "127.0.0.1: 80", "evil host:80", "user@127.0.0.1:80", "http://127.0.0.1:80",
        "127.0.0.1/x:80", "a%2fb:80", "a\0b:80", "a\nb:80", "[::1]", "[::1]80", "[zz::1]:80", "[::1%eth0]:80",
        "\(String(repeating: "a", count: 254)):80",
    ])
    func addressesThatAreRefused(_ address: String) {
        #expect(WorkerIdentity.parseAddress(address) == nil)
    }

    @Test(arguments: ["", "..", "../w1", "w/1", "w1\n", "w 1", ".w1", "w%31", String(repeating: "w", count: 129)])
    func heartbeatNamesFollowTheModelNameRules(_ name: String) {
        let error = #expect(throws: HedgerowError.self) { try WorkerIdentity.validate(beat(name, "127.0.0.1:8701")) }
        #expect(error?.kind == .badRequest)
        #expect(error?.message.contains("\n") == false)
    }

    @Test func heartbeatZonesAndMemoryAreBounded() throws {
        try WorkerIdentity.validate(beat("w1", "127.0.0.1:8701"))
        #expect(throws: HedgerowError.self) { try WorkerIdentity.validate(beat("w1", "127.0.0.1:8701", zone: "a/b")) }
        #expect(throws: HedgerowError.self) { try WorkerIdentity.validate(WorkerHeartbeat(name: "w1", address: "127.0.0.1:1", zone: "a", memoryMB: -1)) }
        #expect(throws: HedgerowError.self) { try WorkerIdentity.validate(WorkerHeartbeat(name: "w1", address: "127.0.0.1:1", zone: "a", memoryMB: Int.max)) }
    }
}

/// The heartbeat endpoint itself: 200, 400 with a reason, 409 for a name held elsewhere.
@Suite struct HeartbeatEndpointTests {
    let inventory = WorkerInventory(deadAfter: 3)
    let now = NIOLockedValueBox(100.0)

    var responder: SynchronizerResponder {
        let report = SynchronizerStateReport(configFile: "x", configHash: nil, configAppliedAt: nil, lastConfigError: nil, generation: 0, workers: [], versions: [])
        let now = self.now
        return SynchronizerResponder(
            publisher: RoutesPublisher(), inventory: inventory, report: NIOLockedValueBox(report), poisoned: PoisonRegistry(), adminToken: nil,
            clock: { now.withLockedValue { $0 } }
        )
    }

    func post(_ body: String) -> (status: Int, body: String) {
        let response = responder.heartbeat(HTTPRequest(method: .POST, target: "/v1/workers/heartbeat", body: ByteBuffer(string: body)))
        return (Int(response.status.code), String(buffer: response.body))
    }

    @Test func namesHeldByALiveWorkerElsewhereAre409() {
        #expect(post(#"{"name":"w1","address":"127.0.0.1:8701","zone":"a","memoryMB":1024}"#).status == 200)
        let taken = post(#"{"name":"w1","address":"127.0.0.1:6666","zone":"a","memoryMB":1024}"#)
        #expect(taken.status == 409)
        #expect(taken.body.contains("held by a live worker at 127.0.0.1:8701"))
        #expect(post(#"{"name":"w1","address":"127.0.0.1:8701","zone":"a","memoryMB":1024}"#).status == 200)
        now.withLockedValue { $0 = 104 }
        #expect(post(#"{"name":"w1","address":"127.0.0.1:6666","zone":"a","memoryMB":1024}"#).status == 200)
        #expect(inventory.all.map(\.address) == ["127.0.0.1:6666"])
    }

    @Test(arguments: [
        "", "{", "[]", #"{"name":"w1"}"#, #"{"name":"../w1","address":"127.0.0.1:8701","zone":"a","memoryMB":1}"#,
        #"{"name":"w1","address":"127.0.0.1:0","zone":"a","memoryMB":1}"#, #"{"name":"w1","address":"127.0.0.1","zone":"a","memoryMB":1}"#,
        #"{"name":"w1\u0000","address":"127.0.0.1:1","zone":"a","memoryMB":1}"#, #"{"name":"","address":"127.0.0.1:1","zone":"a","memoryMB":1}"#,
    ])
    func malformedOrInvalidHeartbeatsAre400(_ body: String) {
        let answer = post(body)
        #expect(answer.status == 400)
        #expect(answer.body.contains("heartbeat"))
        #expect(inventory.all.isEmpty)
    }
}
