/// A token bucket: `rate` events per second on average, bursts of up to `burst`. Pure value; time is passed in.
public struct TokenBucket: Sendable {
    /// Sustained events per second.
    public let rate: Double
    /// Largest burst.
    public let burst: Double
    private var tokens: Double
    private var updatedAt: ContinuousClock.Instant

    /// Creates a full bucket.
    public init(rate: Double, burst: Int, now: ContinuousClock.Instant) {
        self.rate = rate
        self.burst = Double(max(1, burst))
        tokens = self.burst
        updatedAt = now
    }

    /// Takes one token if there is one.
    public mutating func take(now: ContinuousClock.Instant) -> Bool {
        let elapsed = now - updatedAt
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        tokens = min(burst, tokens + max(0, seconds) * rate)
        updatedAt = now
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }
}
