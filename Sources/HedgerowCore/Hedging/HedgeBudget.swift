/// What holds a model's extra attempts (hedges and retries after a 503) to a share of its requests, as a value:
/// requests and extras in, a yes or no out; time is passed in (monotonic nanoseconds).
///
/// Over any `window` (10 s by default, kept in one-second slices), extras ≤ `percent`% of the requests of that
/// window + `floorPerSecond` × the window's seconds. So a sustained overload, when every request is slow and
/// would be hedged, gets at most `percent`% more requests (plus the floor's few): hedging never multiplies it.
///
/// Why a window and not a small token bucket: a replica that freezes strands every request it holds at once,
/// twice a second, and a bucket capped at a few tokens ran dry in each stall while it stayed full in between
/// (issue 12). Within the window, what quiet seconds earned can be spent in one burst. Why the floor (as
/// Finagle's `minRetriesPerSec`): a model with a few requests a second earns less than one hedge per window, yet
/// its requests deserve a backup as much. `percent == 0` allows nothing, floor included: hedging is off.
public struct HedgeBudget: Sendable {
    public struct Settings: Sendable, Equatable {
        public var sliceNanos: UInt64 = 1_000_000_000
        public var slices = 10
        public var floorPerSecond: Double = 1

        public init() {}
    }

    private struct Slice {
        var epoch: UInt64 = .max
        var earned: Double = 0
        var spent: Double = 0
    }

    public let settings: Settings
    private var slices: [Slice]

    public init(settings: Settings = .init()) {
        self.settings = settings
        self.slices = Array(repeating: Slice(), count: max(settings.slices, 1))
    }

    /// Records one request of a model whose budget is `percent`% of its requests.
    public mutating func deposit(percent: Double, now: UInt64) {
        let i = slot(now)
        slices[i].earned += max(percent, 0) / 100
    }

    /// Takes one extra attempt if the window allows it.
    public mutating func withdraw(percent: Double, now: UInt64) -> Bool {
        guard percent > 0 else { return false }
        let epoch = now / settings.sliceNanos
        var earned = 0.0, spent = 0.0
        for slice in slices where slice.epoch != .max && slice.epoch <= epoch && epoch - slice.epoch < UInt64(slices.count) {
            earned += slice.earned
            spent += slice.spent
        }
        let floor = settings.floorPerSecond * Double(slices.count) * Double(settings.sliceNanos) / 1e9
        // The epsilon absorbs the rounding of summed shares (twenty deposits of 0.05 make 0.9999…).
        guard spent + 1 <= earned + floor + 1e-9 else { return false }
        slices[slot(now)].spent += 1
        return true
    }

    /// The slice that holds `now`, emptied first if it last held an older second.
    private mutating func slot(_ now: UInt64) -> Int {
        let epoch = now / settings.sliceNanos
        let i = Int(epoch % UInt64(slices.count))
        if slices[i].epoch != epoch { slices[i] = Slice(epoch: epoch) }
        return i
    }
}
