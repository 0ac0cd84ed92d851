import NIOConcurrencyHelpers

/// Metric handles kept by their label values, so that the request path makes each handle once.
///
/// swift-metrics' `Counter(label:dimensions:)` asks the factory every time it is called, and swift-prometheus then
/// validates the name, sorts the labels and looks the metric up under its registry lock: ~3 % of the router's
/// CPU when done per request. Here the second request with the same labels takes the handle from a dictionary.
///
/// Bounded: past `limit` distinct keys nothing more is kept (handles for new keys are made on every call, as
/// before), so label values that keep changing (replicas coming and going for months) cannot grow it without end.
public final class MetricHandles<Key: Hashable & Sendable, Handle: Sendable>: Sendable {
    private let make: @Sendable (Key) -> Handle
    private let handles = NIOLockedValueBox<[Key: Handle]>([:])
    private let limit: Int

    public init(limit: Int = 10_000, _ make: @escaping @Sendable (Key) -> Handle) {
        self.limit = limit
        self.make = make
    }

    public subscript(_ key: Key) -> Handle {
        if let handle = handles.withLockedValue({ $0[key] }) { return handle }
        let handle = make(key)
        handles.withLockedValue { handles in
            if handles.count < limit { handles[key] = handles[key] ?? handle }
        }
        return handle
    }

    /// Handles kept now (for tests).
    public var count: Int { handles.withLockedValue { $0.count } }
}
