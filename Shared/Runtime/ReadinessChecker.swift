import Synchronization

/// Runs registered ``ReadinessCheck``s concurrently, each bounded by a timeout, so a hung dependency
/// makes the process "not ready" instead of hanging the probe.
public final class ReadinessChecker: Sendable {
    /// The outcome of one evaluation.
    public struct Report: Sendable, Equatable {
        /// Names of the checks that returned `false` or did not answer in time, in registration order.
        public var failing: [String]
        /// Whether every check passed.
        public var isReady: Bool { failing.isEmpty }

        /// Creates a report listing the `failing` checks.
        public init(failing: [String]) { self.failing = failing }
    }

    /// How long one check may take before it counts as failing.
    public let timeout: Duration
    private let checks: Mutex<[ReadinessCheck]>

    /// Creates a checker with initial `checks` and a per-check `timeout` (default 2 s).
    public init(checks: [ReadinessCheck] = [], timeout: Duration = .seconds(2)) {
        self.checks = Mutex(checks)
        self.timeout = timeout
    }

    /// Adds a check; it takes part in every later evaluation.
    public func register(_ check: ReadinessCheck) {
        checks.withLock { $0.append(check) }
    }

    /// Names of the registered checks, in registration order.
    public var names: [String] { checks.withLock { $0.map(\.name) } }

    /// Runs every check concurrently and reports those that failed or timed out.
    public func evaluate() async -> Report {
        let current = checks.withLock { $0 }
        let timeout = self.timeout
        let results = await withTaskGroup(of: (Int, Bool).self) { group in
            for (index, check) in current.enumerated() {
                group.addTask { (index, await Self.run(check, timeout: timeout)) }
            }
            var results = [Bool](repeating: false, count: current.count)
            for await (index, passed) in group {
                results[index] = passed
            }
            return results
        }
        return Report(failing: zip(current, results).filter { !$0.1 }.map(\.0.name))
    }

    /// Runs `check` in its own task and answers `false` once `timeout` passes, even if the check
    /// ignores cancellation (a task group would wait for it; an unstructured task does not).
    static func run(_ check: ReadinessCheck, timeout: Duration) async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let race = Race(continuation)
            let work = Task { race.finish(await check.check()) }
            let timer = Task {
                do {
                    try await Task.sleep(for: timeout)
                    race.finish(false)
                } catch {
                    // Cancelled because the check answered first.
                }
            }
            race.track([work, timer])
        }
    }

    /// Resumes a continuation with the first answer and cancels the losing tasks.
    private final class Race: Sendable {
        private struct State {
            var continuation: CheckedContinuation<Bool, Never>?
            var tasks: [Task<Void, Never>] = []
        }

        private let state: Mutex<State>

        init(_ continuation: CheckedContinuation<Bool, Never>) {
            state = Mutex(State(continuation: continuation))
        }

        func track(_ tasks: [Task<Void, Never>]) {
            let finished = state.withLock { state -> Bool in
                guard state.continuation != nil else { return true }
                state.tasks = tasks
                return false
            }
            if finished { tasks.forEach { $0.cancel() } }
        }

        func finish(_ value: Bool) {
            let taken = state.withLock { state -> (CheckedContinuation<Bool, Never>, [Task<Void, Never>])? in
                guard let continuation = state.continuation else { return nil }
                state.continuation = nil
                defer { state.tasks = [] }
                return (continuation, state.tasks)
            }
            guard let (continuation, tasks) = taken else { return }
            tasks.forEach { $0.cancel() }
            continuation.resume(returning: value)
        }
    }
}
