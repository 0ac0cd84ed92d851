import Foundation
import HedgerowCore
import HedgerowHTTP
@testable import HedgerowSynchronizer
import NIOConcurrencyHelpers
import NIOCore
import Testing

@Suite struct CanaryVerdictsTests {
    let canary = try! CanaryPolicy(version: 2, splitPercent: 10, mirrorPercent: 20, abort: .init(minSamples: 100, maxTop1DisagreePercent: 1))

    func entry(_ compared: Int, disagree: Int, identity: String? = nil, aborted: String? = nil) -> CanaryReport.Entry {
        var tally = CanaryTally()
        tally.compared = compared
        tally.rows = compared
        tally.top1Disagreements = disagree
        return .init(model: "digits", candidate: 2, identity: identity ?? canary.identity, tally: tally, aborted: aborted)
    }

    func routes(_ canary: CanaryPolicy?) -> [String: RoutingTable.ModelRoutes] {
        ["digits": .init(versions: ["1": ["a:1"], "2": ["a:1"]], labels: ["stable": 1], defaultVersion: 1, hedging: .default, canary: canary)]
    }

    @Test func theSumOfRoutersIsJudgedAndTheAbortIsLatchedUntilTheBlockIsEdited() {
        var verdicts = CanaryVerdicts()
        verdicts.setDesired(["digits": canary])
        // Each router alone is under minSamples; their sum is not, and 2 % of rows disagree.
        #expect(verdicts.receive(.init(router: "r1", canaries: [entry(60, disagree: 1)]), now: 1).isEmpty)
        let aborted = verdicts.receive(.init(router: "r2", canaries: [entry(60, disagree: 2)]), now: 1)
        #expect(aborted.count == 1 && aborted[0].reason.contains("of 120 rows"), "\(aborted)")
        // A router's later, healthier report replaces its earlier one but does not lift the latch.
        #expect(verdicts.receive(.init(router: "r2", canaries: [entry(6000, disagree: 0)]), now: 2).isEmpty)
        #expect(verdicts.statuses().first?.state == "aborted" && verdicts.statuses().first?.tally.compared == 6060)
        #expect(verdicts.applied(to: routes(canary))["digits"]?.canary?.aborted != nil)
        // The same block after another reconcile round: still aborted. An edit lifts it and starts from zero.
        verdicts.setDesired(["digits": canary])
        #expect(verdicts.latched["digits"] != nil)
        var edited = canary
        edited.mirrorPercent = 5
        verdicts.setDesired(["digits": edited])
        #expect(verdicts.latched["digits"] == nil && verdicts.statuses().first?.tally.compared == 0)
        #expect(verdicts.applied(to: routes(edited))["digits"]?.canary?.aborted == nil)
    }

    @Test func reportsOfAnotherBlockAreIgnoredAndARoutersOwnAbortLatches() {
        var verdicts = CanaryVerdicts()
        verdicts.setDesired(["digits": canary])
        #expect(verdicts.receive(.init(router: "r1", canaries: [entry(500, disagree: 500, identity: "an older block")]), now: 1).isEmpty)
        #expect(verdicts.statuses().first?.tally.compared == 0 && verdicts.statuses().first?.routers == 0)
        let aborted = verdicts.receive(.init(router: "r1", canaries: [entry(10, disagree: 0, aborted: "errors on this router")]), now: 1)
        #expect(aborted.first?.reason == "router r1: errors on this router")
        #expect(CanaryVerdicts().applied(to: routes(canary))["digits"]?.canary?.aborted == nil)
    }

    @Test func reportsNeedTheTokenAndAnAbortIsPublishedAtOnce() throws {
        let publisher = RoutesPublisher()
        publisher.publish(routes(canary))
        let canaries = CanaryRegistry()
        canaries.withVerdicts { $0.setDesired(["digits": canary]) }
        let report = SynchronizerStateReport(configFile: "x", configHash: nil, configAppliedAt: nil, lastConfigError: nil, generation: 0, workers: [], versions: [])
        let responder = SynchronizerResponder(
            publisher: publisher, inventory: WorkerInventory(deadAfter: 3), report: NIOLockedValueBox(report), poisoned: PoisonRegistry(),
            canaries: canaries, adminToken: "s3cret", clock: { 1 }
        )
        let body = try JSONEncoder().encode(CanaryReport(router: "r1", canaries: [entry(200, disagree: 100)]))
        func post(_ body: Data, token: String?) -> Int {
            var request = HTTPRequest(method: .POST, target: "/v1/canary/reports", body: ByteBuffer(bytes: body))
            if let token { request.headers.add(name: "authorization", value: "Bearer \(token)") }
            return Int(responder.canaryReport(request).status.code)
        }
        #expect(post(body, token: nil) == 401)
        #expect(post(body, token: "wrong") == 401)
        #expect(publisher.current.models["digits"]?.canary?.aborted == nil)
        #expect(post(Data("{not json".utf8), token: "s3cret") == 400)
        let generation = publisher.current.generation
        #expect(post(body, token: "s3cret") == 200)
        #expect(publisher.current.generation == generation + 1)
        #expect(publisher.current.models["digits"]?.canary?.aborted?.contains("top-1 class disagreed on 50.0%") == true)
    }
}
