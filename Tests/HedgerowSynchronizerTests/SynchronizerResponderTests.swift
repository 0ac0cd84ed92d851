import HedgerowCore
import HedgerowHTTP
@testable import HedgerowSynchronizer
import NIOConcurrencyHelpers
import NIOCore
import Testing

/// The synchronizer's calls that change state take the admin token when it has one: heartbeats, crash reports
/// from a supervisor, and clearing a poisoned version.
@Suite struct SynchronizerResponderTests {
    let poisoned = PoisonRegistry()

    func responder(token: String?) -> SynchronizerResponder {
        let report = SynchronizerStateReport(configFile: "x", configHash: nil, configAppliedAt: nil, lastConfigError: nil, generation: 0, workers: [], versions: [])
        return SynchronizerResponder(
            publisher: RoutesPublisher(), inventory: WorkerInventory(deadAfter: 3), report: NIOLockedValueBox(report),
            poisoned: poisoned, adminToken: token, clock: { 10 }
        )
    }

    func call(_ responder: SynchronizerResponder, _ path: String, body: String = "", token: String? = nil) -> (Int, String) {
        var request = HTTPRequest(method: .POST, target: path, body: ByteBuffer(string: body))
        if let token { request.headers.add(name: "authorization", value: "Bearer \(token)") }
        let response = path == "/v1/workers/heartbeat" ? responder.heartbeat(request) : responder.poisonCall(request)
        return (Int(response.status.code), String(buffer: response.body))
    }

    let heartbeat = #"{"name":"w9","address":"127.0.0.1:9999","zone":"a","memoryMB":512}"#

    @Test func heartbeatsNeedTheTokenWhenThereIsOne() throws {
        let guarded = responder(token: "s3cret")
        #expect(call(guarded, "/v1/workers/heartbeat", body: heartbeat).0 == 401)
        #expect(call(guarded, "/v1/workers/heartbeat", body: heartbeat, token: "wrong").0 == 401)
        #expect(call(guarded, "/v1/workers/heartbeat", body: heartbeat, token: "s3cret").0 == 200)
        #expect(call(responder(token: nil), "/v1/workers/heartbeat", body: heartbeat).0 == 200)
    }

    @Test func crashReportsAndClearsNeedTheTokenAndNameWhatTheyTouch() throws {
        let guarded = responder(token: "s3cret")
        #expect(call(guarded, "/v1/workers/w1/crashed", body: "killed").0 == 401)
        #expect(call(guarded, "/v1/workers/..%2f/crashed", body: "x", token: "s3cret").0 == 400)
        #expect(call(guarded, "/v1/workers/w1/crashed", body: String(repeating: "x", count: 10_000) + "END", token: "s3cret").0 == 200)

        let id = ModelVersionID(model: try ModelName("digits"), version: try ModelVersion(2))
        let (cleared, message) = call(guarded, "/v1/poisoned/digits/versions/2/clear", token: "s3cret")
        #expect(cleared == 404 && message.contains("digits v2 is not poisoned"), "\(message)")
        _ = poisoned.withState {
            $0.observe(loadingBefore: [.init(worker: "w1", id: id)], unloadsSent: [], current: [:], refused: ["w1"], stamps: { _ in nil }, now: 10)
        }
        // The crash report came first; it is attached, cut to its last 4 KiB.
        let report = try #require(poisoned.entries.first?.crashReport)
        #expect(report.hasSuffix("END") && report.utf8.count == SynchronizerResponder.maxCrashReportBytes)
        #expect(call(guarded, "/v1/poisoned/digits/versions/2/clear").0 == 401)
        #expect(call(guarded, "/v1/poisoned/digits/versions/2/clear", token: "s3cret").0 == 200)
        #expect(!poisoned.isPoisoned(id))
        #expect(call(guarded, "/v1/poisoned/digits/versions/x/clear", token: "s3cret").0 == 400)
    }
}
