import NIOConcurrencyHelpers
import Testing

@testable import HedgerowMetrics

@Suite struct MetricHandlesTests {
    final class Handle: Sendable {
        let key: String
        init(_ key: String) { self.key = key }
    }

    @Test func eachKeysHandleIsMadeOnce() {
        let made = NIOLockedValueBox(0)
        let handles = MetricHandles<String, Handle> { key in
            made.withLockedValue { $0 += 1 }
            return Handle(key)
        }
        let first = handles["digits"]
        for _ in 0..<100 { #expect(handles["digits"] === first) }
        #expect(handles["encoder"].key == "encoder")
        #expect(made.withLockedValue { $0 } == 2)
    }

    @Test func pastTheLimitNewKeysAreNotKept() {
        let handles = MetricHandles<Int, Handle>(limit: 3) { Handle(String($0)) }
        for key in 0..<10 { _ = handles[key] }
        #expect(handles.count == 3)
        #expect(handles[7].key == "7", "a key over the limit still gets a working handle")
        #expect(handles[0] === handles[0], "keys kept before the limit stay")
    }
}
