#if canImport(Glibc)
import Glibc
#endif
import HedgerowCore
import Synchronization

/// The float buffers a graph's runs reuse: an intermediate's storage goes back to the pool when its last reader
/// has run (`ExecutionPlan.releases`), and a kernel asks the pool for its output before allocating one. After a
/// few requests a run allocates (almost) nothing for its intermediates. Between runs the pool holds at most twice
/// the largest working set one run has had (`observe(peakBytes:)`: room for two runs in flight at once), never
/// less than `floorBytes` nor more than `capBytes`, and at most 16 buffers of each size class.
///
/// Reuse never changes a result, whatever the graph shares: Swift arrays copy on write, so a buffer that is still
/// read elsewhere (a Reshape's view of it, a graph output) is copied the moment a kernel writes to it, not
/// overwritten. A kernel must write every value of the buffer it is given (its contents are a previous run's).
final class BufferPool: Sendable {
    /// Buffers smaller than this are cheaper to allocate than to look up.
    static let minimumCount = 1024

    /// Buffers kept per size class (capacities in [2^k, 2^(k+1))): enough for the intermediates of one size that a
    /// few concurrent runs hold, few enough that a lookup is a short scan.
    static let perSizeClass = 16

    let floorBytes: Int, capBytes: Int

    private struct State {
        var classes = [[[Float]]](repeating: [], count: Int.bitWidth)
        var bytes = 0
        var peak = 0
        var reused = 0, allocated = 0
    }
    private let state = Mutex(State())

    init(floorBytes: Int = 8 << 20, capBytes: Int = 1 << 30) { (self.floorBytes, self.capBytes) = (floorBytes, capBytes) }

    /// What the pool may hold now.
    var limitBytes: Int { state.withLock { limit($0) } }

    private func limit(_ state: State) -> Int { Swift.min(capBytes, Swift.max(floorBytes, 2 * state.peak)) }

    /// Records the float bytes one run had live at most (intermediates and outputs), which sizes the pool.
    func observe(peakBytes: Int) {
        state.withLock { $0.peak = Swift.max($0.peak, peakBytes) }
    }

    /// The size class of a capacity ≥ 1: ⌊log2⌋.
    private static func sizeClass(_ capacity: Int) -> Int { Int.bitWidth - 1 - capacity.leadingZeroBitCount }

    /// A buffer of `count` values (stale contents) if the pool holds one whose capacity fits without wasting more
    /// than half of it; nil otherwise.
    func take(_ count: Int) -> [Float]? {
        guard count >= Self.minimumCount else { return nil }
        // Capacities in count...2·count lie in count's size class or the next one.
        let first = Self.sizeClass(count)
        var buffer: [Float]? = state.withLock { state in
            for k in first...Swift.min(first + 1, state.classes.count - 1) {
                guard let i = state.classes[k].firstIndex(where: { $0.capacity >= count && $0.capacity / 2 <= count }) else { continue }
                state.bytes -= state.classes[k][i].capacity * 4
                state.reused += 1
                return state.classes[k].remove(at: i)
            }
            state.allocated += 1
            return nil
        }
        guard var values = buffer.take() else { return nil }
        if values.count > count {
            values.removeLast(values.count - count)
        } else if values.count < count {
            values.append(contentsOf: repeatElement(0, count: count - values.count))
        }
        return values
    }

    /// Keeps `values` for a later `take`, unless it is small, its size class is full or the pool is.
    func give(_ values: [Float]) {
        guard values.capacity >= Self.minimumCount else { return }
        let bytes = values.capacity * 4, k = Self.sizeClass(values.capacity)
        state.withLock { state in
            guard state.classes[k].count < Self.perSizeClass, state.bytes + bytes <= limit(state) else { return }
            state.classes[k].append(values)
            state.bytes += bytes
        }
    }

    /// Requests for a buffer the pool could serve (`count` at least `minimumCount`) since the graph loaded: how
    /// many it did, and how many were allocated.
    var requests: (reused: Int, allocated: Int) { state.withLock { ($0.reused, $0.allocated) } }

    /// Bytes the pool holds between runs.
    var heldBytes: Int { state.withLock { $0.bytes } }

    /// The pool of the graph run on this thread, while it runs (`using(_:)`): kernels reach it without another
    /// parameter on every one of them.
    static var current: BufferPool? {
        guard let pointer = pthread_getspecific(currentKey) else { return nil }
        return Unmanaged<BufferPool>.fromOpaque(pointer).takeUnretainedValue()
    }

    /// Runs `body` with `self` as this thread's current pool, restoring the previous one after.
    func using<R>(_ body: () throws(HedgerowError) -> R) throws(HedgerowError) -> R {
        let previous = pthread_getspecific(Self.currentKey)
        pthread_setspecific(Self.currentKey, Unmanaged.passUnretained(self).toOpaque())
        defer { pthread_setspecific(Self.currentKey, previous) }
        return try body()
    }

    private static let currentKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()
}

extension Array where Element == Float {
    /// `count` values that `fill` writes, every one of them: from the current run's pool when it has a buffer that
    /// fits, else freshly allocated.
    @inline(__always)
    static func pooled(count: Int, _ fill: (UnsafeMutableBufferPointer<Float>) -> Void) -> [Float] {
        if var values = BufferPool.current?.take(count) {
            values.withUnsafeMutableBufferPointer { fill($0) }
            return values
        }
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            fill(buffer)
            initialized = count
        }
    }
}

extension Array where Element == Float {
    /// `count` zeros, in a buffer from the current run's pool when it has one that fits.
    static func pooledZeros(count: Int) -> [Float] { .pooled(count: count) { $0.update(repeating: 0) } }

    /// Scratch of `count` values the caller overwrites before reading: a pool buffer as it is (a previous run's
    /// values), else fresh zeros. Give it back to `BufferPool.current` when done.
    static func pooledScratch(count: Int) -> [Float] { BufferPool.current?.take(count) ?? [Float](repeating: 0, count: count) }
}

extension Array {
    /// `count` elements that `fill` initializes, every one of them; float arrays come from the current run's pool
    /// when it has a buffer that fits (for generic kernels: Transpose, broadcast arithmetic).
    @inline(__always)
    static func filled(count: Int, _ fill: (UnsafeMutableBufferPointer<Element>) -> Void) -> [Element] {
        if Element.self == Float.self {
            let floats = [Float].pooled(count: count) { buffer in
                fill(UnsafeMutableRawBufferPointer(buffer).bindMemory(to: Element.self))
            }
            return unsafeBitCast(floats, to: [Element].self)
        }
        return [Element](unsafeUninitializedCapacity: count) { buffer, initialized in
            fill(buffer)
            initialized = count
        }
    }
}
