/// A named readiness condition; `/ready` answers 200 only when every check returns `true` in time.
public struct ReadinessCheck: Sendable {
    /// Short name reported in `failing`, e.g. `kafka`.
    public var name: String
    /// Returns whether the dependency is usable; should be quick and cancellation-aware.
    public var check: @Sendable () async -> Bool

    /// Creates a check called `name`.
    public init(name: String, check: @escaping @Sendable () async -> Bool) {
        self.name = name
        self.check = check
    }
}
