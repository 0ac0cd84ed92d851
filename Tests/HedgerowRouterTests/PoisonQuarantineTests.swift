@testable import HedgerowRouter
import Testing

@Suite struct PoisonQuarantineTests {
    let poison = RequestFingerprint(model: "digits", hash: 1)
    let good = RequestFingerprint(model: "digits", hash: 2)
    let second: UInt64 = 1_000_000_000

    @Test func aQuarantinedRequestIsRefusedUntilItsTimeRunsOut() {
        var q = PoisonQuarantine()
        #expect(q.remaining(poison, now: 0) == nil)
        let held1 = q.quarantine(poison, now: 10 * second)
        #expect(held1)
        #expect(q.remaining(poison, now: 10 * second) == 60 * second)
        #expect(q.remaining(poison, now: 69 * second) == 1 * second)
        #expect(q.remaining(good, now: 11 * second) == nil)
        #expect(q.remaining(poison, now: 70 * second) == nil)
    }

    @Test func aRequestAnsweredRecentlyIsNeverQuarantined() {
        var q = PoisonQuarantine()
        q.recordAnswered(good, now: 5 * second)
        #expect(q.isKnownHarmless(good, now: 6 * second))
        let held2 = q.quarantine(good, now: 6 * second)
        #expect(!held2)
        #expect(q.remaining(good, now: 6 * second) == nil)
        // Sixty seconds later the answer is forgotten.
        #expect(!q.isKnownHarmless(good, now: 66 * second))
        let held3 = q.quarantine(good, now: 66 * second)
        #expect(held3)
    }

    @Test func durationZeroTurnsTheQuarantineOff() {
        var settings = PoisonQuarantine.Settings()
        settings.duration = 0
        var q = PoisonQuarantine(settings: settings)
        let held4 = q.quarantine(poison, now: 0)
        #expect(!held4)
        #expect(q.remaining(poison, now: 0) == nil)
    }

    @Test func bothTablesStayBounded() {
        var settings = PoisonQuarantine.Settings()
        settings.capacity = 4
        settings.harmlessCapacity = 8
        var q = PoisonQuarantine(settings: settings)
        for i in 0..<100 {
            let held5 = q.quarantine(RequestFingerprint(model: "m", hash: UInt64(i)), now: UInt64(i) * second)
            #expect(held5)
            q.recordAnswered(RequestFingerprint(model: "h", hash: UInt64(i)), now: UInt64(i))
        }
        // The newest suspects are held; the soonest to expire made room.
        #expect(q.remaining(RequestFingerprint(model: "m", hash: 99), now: 99 * second) != nil)
        #expect(q.remaining(RequestFingerprint(model: "m", hash: 0), now: 99 * second) == nil)
        var held = 0
        for i in 0..<100 where q.remaining(RequestFingerprint(model: "m", hash: UInt64(i)), now: 99 * second) != nil { held += 1 }
        #expect(held == 4)
        // The most recent answers are remembered, the oldest forgotten.
        #expect(q.isKnownHarmless(RequestFingerprint(model: "h", hash: 99), now: 100))
        #expect(!q.isKnownHarmless(RequestFingerprint(model: "h", hash: 0), now: 100))
    }

    @Test func aQuarantineNearTheEndOfTimeDoesNotOverflow() {
        var q = PoisonQuarantine()
        let held6 = q.quarantine(poison, now: .max - 1)
        #expect(held6)
        #expect(q.remaining(poison, now: .max - 1) == 1)
    }

    @Test func anAnswerRecordedAfterTheCallersClockReadIsRecentNotAncient() {
        var q = PoisonQuarantine()
        q.recordAnswered(good, now: 10 * second + 5)
        // The caller read its clock 5 ns before another loop recorded the answer.
        #expect(q.isKnownHarmless(good, now: 10 * second))
        let held = q.quarantine(good, now: 10 * second)
        #expect(!held)
    }
}

@Suite struct RequestFingerprintTests {
    @Test func sameModelPathAndBodyGiveTheSameFingerprint() {
        let a = RequestFingerprint(model: "digits", target: "/v2/models/digits/versions/1/infer", body: .init(string: #"{"inputs":[1,2,3]}"#))
        let b = RequestFingerprint(model: "digits", target: "/v2/models/digits/versions/1/infer", body: .init(string: #"{"inputs":[1,2,3]}"#))
        #expect(a == b)
        #expect(a.description.hasPrefix("digits/"))
        #expect(a.description.count == "digits/".count + 16)
    }

    @Test func anyDifferenceChangesIt() {
        let target = "/v2/models/digits/versions/1/infer"
        let base = RequestFingerprint(model: "digits", target: target, body: .init(string: "0123456789abcdef0"))
        #expect(base != RequestFingerprint(model: "digits", target: target, body: .init(string: "0123456789abcdef1")))
        #expect(base != RequestFingerprint(model: "digits", target: target, body: .init(string: "1123456789abcdef0")))
        #expect(base != RequestFingerprint(model: "digits", target: target, body: .init(string: "0123456789abcdef")))
        #expect(base != RequestFingerprint(model: "digits", target: "/v2/models/digits/versions/2/infer", body: .init(string: "0123456789abcdef0")))
        #expect(base.hash != RequestFingerprint(model: "digits", target: target, body: .init()).hash)
    }
}

