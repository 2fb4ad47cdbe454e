import Foundation
import Runtime
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One process of a ``ServiceStack``: spawned from a fixed command line and environment, so it can be killed
/// (SIGKILL, as a crash), stopped (SIGTERM) and started again under the same configuration, on the same ports, its
/// output appended to the same log.
final class StackProcess: Sendable {
    /// How to tell that the process is up.
    enum Readiness: Sendable {
        /// `GET /ready` on this loopback port answers 200.
        case http(port: Int)
        /// `redis-server` on this loopback port answers PING.
        case redisPing(port: Int)
    }

    /// The service's name (`gateway-a`, `verification-worker`, …).
    let name: String
    /// Program and arguments (a `taskset` prefix included).
    let command: [String]
    /// Variables added to this process's environment.
    let environment: [String: String]
    /// Standard output and error of every incarnation, appended.
    let log: URL
    /// What ``start()`` waits for.
    let readiness: Readiness
    /// The incarnation running now (or the last one), and how many were started.
    private let state = Mutex<(process: ChildProcess?, starts: Int)>((nil, 0))

    /// Describes the process; nothing runs before ``start()``.
    init(name: String, command: [String], environment: [String: String], log: URL, readiness: Readiness) {
        self.name = name
        self.command = command
        self.environment = environment
        self.log = log
        self.readiness = readiness
    }

    /// The PID of the current incarnation while it runs.
    var pid: pid_t? { state.withLock { $0.process?.isRunning == true ? $0.process?.pid : nil } }
    /// Whether the current incarnation runs.
    var isRunning: Bool { state.withLock { $0.process?.isRunning ?? false } }
    /// How many times the process was started.
    var starts: Int { state.withLock { $0.starts } }

    /// Spawns the process (unless it runs) and waits up to `timeout` until it is ready.
    func start(timeout: Duration = .seconds(60)) async throws {
        let process = try state.withLock { state -> ChildProcess in
            if let running = state.process, running.isRunning { return running }
            let process = try ChildProcess(
                executable: command[0], arguments: Array(command.dropFirst()), environment: environment,
                standardOutput: .file(log, append: true))
            state = (process, state.starts + 1)
            return process
        }
        let deadline = ContinuousClock.now + timeout
        while !isReady() {
            if let status = process.exitStatus {
                throw BenchError("\(name) exited (\(status)): \(process.logTail(lines: 30))")
            }
            guard ContinuousClock.now < deadline else {
                throw BenchError("\(name) was not ready within \(timeout): \(process.logTail(lines: 30))")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Whether the process answers as ``readiness`` says.
    func isReady() -> Bool {
        switch readiness {
        case .http(let port): Loopback.httpStatus(port: port, path: "/ready") == 200
        case .redisPing(let port): Loopback.redisAnswersPing(port: port)
        }
    }

    /// `kill -9`: ends the current incarnation at once (no shutdown code runs) and reaps it.
    @discardableResult
    func kill() async -> ChildProcess.ExitStatus? {
        guard let process = state.withLock({ $0.process }) else { return nil }
        process.signal(SIGKILL)
        return await process.waitForExit(timeout: .seconds(10))
    }

    /// Sends `signal` to the current incarnation (`SIGSTOP`, `SIGCONT`, …); `false` when it does not run.
    @discardableResult
    func signal(_ signal: Int32) -> Bool {
        state.withLock { $0.process?.signal(signal) ?? false }
    }

    /// Graceful stop: SIGTERM, SIGKILL after `grace`.
    @discardableResult
    func stop(grace: Duration = .seconds(10)) async -> ChildProcess.ExitStatus? {
        guard let process = state.withLock({ $0.process }) else { return nil }
        return await process.terminate(grace: grace)
    }

    /// The last `lines` lines of the log.
    func logTail(lines: Int = 20) -> String {
        state.withLock { $0.process?.logTail(lines: lines) } ?? "(not started)"
    }
}
