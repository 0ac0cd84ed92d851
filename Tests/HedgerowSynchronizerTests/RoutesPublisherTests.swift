import HedgerowCore
import HedgerowSynchronizer
import NIOEmbedded
import NIOCore
import Testing

@Suite struct RoutesPublisherTests {
    let routes = ["digits": RoutingTable.ModelRoutes(versions: ["1": ["a:1"]], labels: [:], defaultVersion: 1, hedging: .default)]

    @Test func generationGrowsOnlyWhenTheTableChanges() {
        let publisher = RoutesPublisher()
        let first = publisher.current.generation
        #expect(publisher.publish(routes) == first + 1)
        #expect(publisher.publish(routes) == first + 1)
        #expect(publisher.publish([:]) == first + 2)
    }

    @Test func longPollAnswersAtOnceWhenNewerAndOnChangeOtherwise() throws {
        let loop = EmbeddedEventLoop()
        let publisher = RoutesPublisher()
        publisher.publish([:])
        let now = publisher.current.generation
        let immediate = publisher.table(after: now - 1, on: loop)
        #expect(try immediate.wait().generation == now)
        let waiting = publisher.table(after: now, on: loop, maxWait: .seconds(30))
        var answered: RoutingTable?
        waiting.whenSuccess { answered = $0 }
        loop.run()
        #expect(answered == nil)
        publisher.publish(routes)
        loop.run()
        #expect(answered?.generation == now + 1)
        #expect(answered?.models == routes)
    }

    @Test func aPollFromBeforeARestartIsAnsweredAtOnce() throws {
        let publisher = RoutesPublisher()
        publisher.publish([:])
        let answer = publisher.table(after: publisher.current.generation + 40, on: EmbeddedEventLoop())
        #expect(try answer.wait().generation == publisher.current.generation)
    }

    @Test func longPollTimesOutWithTheCurrentTable() {
        let loop = EmbeddedEventLoop()
        let publisher = RoutesPublisher()
        publisher.publish([:])
        var answered: RoutingTable?
        publisher.table(after: publisher.current.generation, on: loop, maxWait: .seconds(30)).whenSuccess { answered = $0 }
        loop.advanceTime(by: .seconds(31))
        #expect(answered?.generation == publisher.current.generation)
    }
}

@Suite struct RoutesPublisherStartupTests {
    let routes = ["digits": RoutingTable.ModelRoutes(versions: ["1": ["a:1"]], labels: [:], defaultVersion: 1, hedging: .default)]

    /// A synchronizer that just started must not hand routers an empty table: polls wait for its first publish,
    /// and fail (routers keep their table) if it does not come in time.
    @Test func nothingIsAnsweredBeforeTheFirstPublish() throws {
        let loop = EmbeddedEventLoop()
        let publisher = RoutesPublisher(firstGeneration: 1_000)
        var answered: RoutingTable?
        publisher.table(after: 0, on: loop, maxWait: .seconds(30)).whenSuccess { answered = $0 }
        loop.run()
        #expect(answered == nil)
        publisher.publish(routes)
        loop.run()
        #expect(answered?.generation == 1_001)

        let late = RoutesPublisher()
        var failure: (any Error)?
        late.table(after: 0, on: loop, maxWait: .seconds(30)).whenFailure { failure = $0 }
        loop.advanceTime(by: .seconds(31))
        #expect(failure is RoutesPublisher.NotReady)
    }

    /// A first publish equal to the empty table still answers the waiting polls.
    @Test func anEmptyFirstTableIsPublishedToo() {
        let loop = EmbeddedEventLoop()
        let publisher = RoutesPublisher(firstGeneration: 7)
        var answered: RoutingTable?
        publisher.table(after: 0, on: loop).whenSuccess { answered = $0 }
        #expect(publisher.publish([:]) == 7)
        loop.run()
        #expect(answered?.generation == 7)
    }

    /// Deltas: only the models changed since the router's generation, while the history covers it; a router further
    /// behind, or one that polls a restarted synchronizer (no history), gets the whole table.
    @Test func deltasCarryOnlyWhatChangedWhileTheHistoryCoversIt() throws {
        let publisher = RoutesPublisher(historyLimit: 2)
        func routes(_ replica: String) -> RoutingTable.ModelRoutes { .init(versions: ["1": [replica]], labels: [:], defaultVersion: 1, hedging: .default) }
        let g1 = publisher.publish(["a": routes("h:1"), "b": routes("h:2"), "c": routes("h:3")])
        let g2 = publisher.publish(["a": routes("h:9"), "b": routes("h:2"), "c": routes("h:3")])
        var delta = publisher.delta(from: g1, to: publisher.current)
        #expect(delta == RoutesUpdate(generation: g2, after: g1, models: ["a": routes("h:9")], removed: []))
        let g3 = publisher.publish(["a": routes("h:9"), "b": routes("h:2")])
        delta = publisher.delta(from: g1, to: publisher.current)
        #expect(delta == RoutesUpdate(generation: g3, after: g1, models: ["a": routes("h:9")], removed: ["c"]))
        #expect(delta.applied(to: RoutingTable(generation: g1, models: ["a": routes("h:1"), "b": routes("h:2"), "c": routes("h:3")])) == publisher.current)
        // Two changes remembered: a router at g1 is now too far behind for a delta.
        _ = publisher.publish(["a": routes("h:9")])
        #expect(publisher.delta(from: g1, to: publisher.current) == RoutesUpdate(publisher.current))
        #expect(publisher.delta(from: g2, to: publisher.current).isDelta)
        // Nothing new: an empty delta at the same generation.
        #expect(publisher.delta(from: publisher.current.generation, to: publisher.current).models.isEmpty)
        // A restarted synchronizer has no history: every router gets the whole table.
        let restarted = RoutesPublisher(firstGeneration: publisher.current.generation + 1000)
        restarted.publish(["a": routes("h:9")])
        #expect(!restarted.delta(from: publisher.current.generation, to: restarted.current).isDelta)
        let answer = try restarted.update(after: g2, on: EmbeddedEventLoop()).wait()
        #expect(answer == RoutesUpdate(restarted.current))
    }
}
