import Dispatch

/// Runs blocking work (a socket read, a process probe) on a thread of its own: blocking a cooperative-pool thread
/// (two on this machine) would stall every other test running in parallel.
///
/// A new serial queue each time, not `DispatchQueue.global()`: on Linux Swift's cooperative pool *is* Dispatch's
/// default global queue (its threads, `com.apple.root.default-qos`, are capped at the CPU count), while a serial
/// queue runs on the overcommitting root queue, which adds a thread when the others are blocked. Long blocking
/// reads here used to freeze every other suite of the test run.
public func offThePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue(label: "off-the-pool").async { continuation.resume(with: Result { try body() }) }
    }
}

/// Waits until `condition` holds, checking every `interval`; throws ``FixtureError`` naming `what` after `timeout`.
public func waitUntil(
    _ what: String, timeout: Duration = .seconds(20), interval: Duration = .milliseconds(20),
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while try await !condition() {
        guard ContinuousClock.now < deadline else { throw FixtureError("\(what): not within \(timeout)") }
        try await Task.sleep(for: interval)
    }
}
