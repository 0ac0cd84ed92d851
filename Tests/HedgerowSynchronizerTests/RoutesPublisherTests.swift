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
        let answer = publisher.table(after: publisher.current.generation + 40, on: EmbeddedEventLoop())
        #expect(try answer.wait().generation == publisher.current.generation)
    }

    @Test func longPollTimesOutWithTheCurrentTable() {
        let loop = EmbeddedEventLoop()
        let publisher = RoutesPublisher()
        var answered: RoutingTable?
        publisher.table(after: publisher.current.generation, on: loop, maxWait: .seconds(30)).whenSuccess { answered = $0 }
        loop.advanceTime(by: .seconds(31))
        #expect(answered?.generation == publisher.current.generation)
    }
}
