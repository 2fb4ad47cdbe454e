/// How the client waits between reconnect attempts: exponential back-off with jitter, as socket.io-client does
/// (`reconnectionDelay` 1 s, `reconnectionDelayMax` 5 s, `randomizationFactor` 0.5, unlimited attempts).
///
/// Jitter spreads a reconnect storm: after a gateway restart, 10k clients do not all come back in the same
/// millisecond.
public struct ReconnectPolicy: Sendable, Hashable {
    /// The first delay (doubled on each further attempt).
    public var initialDelay: Duration
    /// The longest delay.
    public var maxDelay: Duration
    /// How far a delay may move either way, as a fraction of it (0 … 1).
    public var jitter: Double
    /// Give up after this many failed attempts in a row; `nil` never gives up.
    public var maxAttempts: Int?

    /// The socket.io-client defaults.
    public init(initialDelay: Duration = .seconds(1), maxDelay: Duration = .seconds(5), jitter: Double = 0.5,
                maxAttempts: Int? = nil) {
        self.initialDelay = initialDelay
        self.maxDelay = maxDelay
        self.jitter = min(max(jitter, 0), 1)
        self.maxAttempts = maxAttempts
    }

    /// No reconnection at all.
    public static let never = ReconnectPolicy(maxAttempts: 0)

    /// The delay before attempt `attempt` (1-based); `random` is a uniform number in [0, 1).
    public func delay(beforeAttempt attempt: Int, random: Double) -> Duration {
        // The exponent is capped so the arithmetic stays finite (an infinite base minus an infinite deviation is
        // NaN) however long a client has been retrying; 2^30 times any delay is far past every maximum.
        let base = initialDelay.seconds * Double(1 << min(max(0, attempt - 1), 30))
        var seconds = base
        if jitter > 0 {
            let deviation = random * jitter * base
            // The same coin as socket.io-client: the random number's first decimal decides the direction.
            seconds = Int(random * 10) % 2 == 0 ? base - deviation : base + deviation
        }
        return .nanoseconds(Int64(min(max(seconds, 0), maxDelay.seconds) * 1e9))
    }

}

extension Duration {
    /// The duration in seconds, as a `Double`.
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
