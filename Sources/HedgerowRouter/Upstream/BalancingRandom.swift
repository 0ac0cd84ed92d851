import Synchronization

/// The random choices of power-of-two-choices balancing, cheap enough to make twice per request.
///
/// `Int.random(in:)` draws from the system generator, a `getrandom` system call per number on Linux: on the
/// router's request path that cost more than the balancing decision it fed. Balancing needs numbers that are
/// spread evenly, not unpredictable ones, so this is SplitMix64 over one atomic counter: lock-free, shared by
/// every event loop, and seeded from the system generator once.
final class BalancingRandom: Sendable {
    private let state: Atomic<UInt64>

    init(seed: UInt64 = UInt64.random(in: .min ... .max)) {
        state = Atomic(seed)
    }

    /// A number in `0..<bound` (`bound` > 0).
    func callAsFunction(_ bound: Int) -> Int {
        var z = state.wrappingAdd(0x9E37_79B9_7F4A_7C15, ordering: .relaxed).newValue
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        // Lemire's multiply-shift: the high half of z × bound lies in 0..<bound, evenly enough for balancing.
        return Int(z.multipliedFullWidth(by: UInt64(max(bound, 1))).high)
    }
}
