extension Duration {
    /// The duration in seconds as a `Double`: what benchmarks print and what clocks built on `ContinuousClock` return.
    public var inSeconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
