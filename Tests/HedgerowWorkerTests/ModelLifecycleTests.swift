import HedgerowCore
@testable import HedgerowWorker
import Testing

@Suite struct ModelLifecycleTests {
    @Test func loadsThenServesThenUnloadsAfterTheLastRequest() {
        var m = ModelLifecycle()
        #expect(m.state == .loading)
        let r1 = m.requestStarted()
        #expect(r1 == false)
        let r2 = m.loadFinished(error: nil)
        #expect(r2 == .none)
        #expect(m.state == .available)
        let r3 = m.requestStarted()
        #expect(r3)
        let r4 = m.requestStarted()
        #expect(r4)
        let r5 = m.unloadRequested()
        #expect(r5 == .none)  // two requests still hold it
        #expect(m.state == .unloading)
        let r6 = m.requestStarted()
        #expect(r6 == false)   // no new work once unloading
        let r7 = m.requestFinished()
        #expect(r7 == .none)
        let r8 = m.requestFinished()
        #expect(r8 == .remove)
    }

    @Test func unloadWithoutRequestsRemovesAtOnce() {
        var m = ModelLifecycle()
        _ = m.loadFinished(error: nil)
        let r9 = m.unloadRequested()
        #expect(r9 == .remove)
    }

    @Test func loadDuringUnloadKeepsServing() {
        var m = ModelLifecycle()
        _ = m.loadFinished(error: nil)
        _ = m.requestStarted()
        _ = m.unloadRequested()
        let r10 = m.loadRequested()
        #expect(r10 == .none)
        #expect(m.state == .available)
        let r11 = m.requestFinished()
        #expect(r11 == .none)
    }

    @Test func unloadWhileLoadingDropsTheModelWhenTheLoadEnds() {
        var m = ModelLifecycle()
        let r12 = m.unloadRequested()
        #expect(r12 == .none)
        let r13 = m.loadFinished(error: nil)
        #expect(r13 == .remove)
    }

    @Test func failedLoadIsRetriedOnTheNextLoad() {
        var m = ModelLifecycle()
        _ = m.loadFinished(error: "unsupported operator 'Foo'")
        #expect(m.state == .failed)
        #expect(m.error == "unsupported operator 'Foo'")
        let r14 = m.loadRequested()
        #expect(r14 == .startLoad)
        #expect(m.state == .loading)
        let r15 = m.loadRequested()
        #expect(r15 == .none)  // one load at a time
    }
}
