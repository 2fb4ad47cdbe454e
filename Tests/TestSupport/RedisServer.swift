import Foundation
import Runtime
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A real `redis-server` on 127.0.0.1 and a free port, in its own temp dir, for integration tests.
///
/// Starting fails with a clear error (so the test fails, never skips) when `redis-server` is missing or does not
/// answer. Every wait is asynchronous (`Task.sleep`, `ChildProcess.waitForExit`): tests run many suites at once on a
/// two-thread cooperative pool, and a blocking wait there stalls every other test. `stop()` sends SIGTERM and waits;
/// `restart()` comes back on the same port; `deinit` kills a server still running and removes the temp dir.
public final class RedisServerProcess: Sendable {
    /// Why the server could not be started or stopped.
    public struct Failure: Error, CustomStringConvertible {
        /// What went wrong, with the server's log tail when there is one.
        public let description: String
    }

    /// The TCP port the server listens on (stable across `restart()`).
    public let port: Int
    /// `redis://[:password@]127.0.0.1:<port>` for this server.
    public var url: String { "redis://\(password.map { ":\($0)@" } ?? "")127.0.0.1:\(port)" }
    /// The password the server requires (`--requirepass`), if any.
    public let password: String?
    /// The server's temp working directory (removed on deinit).
    public let directory: URL

    private let executable: String
    /// The running server, `nil` once stopped.
    private let process: Mutex<ChildProcess?>

    private init(executable: String, port: Int, password: String?, directory: URL, child: ChildProcess) {
        self.executable = executable
        self.port = port
        self.password = password
        self.directory = directory
        process = Mutex(child)
    }

    /// Starts a server on a free port; `password` turns on `requirepass`.
    public static func start(password: String? = nil) async throws -> RedisServerProcess {
        guard let executable = ChildProcess.findExecutable("redis-server") else {
            throw Failure(
                description: "redis-server not found on PATH or in /usr/local/bin, /usr/bin, /usr/sbin, /bin; "
                    + "install it (apt-get install redis-server) to run the Redis integration tests")
        }
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("redis-test-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)

        // A port from the kernel can be taken by someone else before redis binds it: try a few.
        var lastError: Error?
        for _ in 0..<5 {
            let candidate: Int
            do { candidate = try Loopback.freePort() } catch { lastError = error; continue }
            do {
                let child = try await launch(executable, port: candidate, password: password, directory: directory)
                return RedisServerProcess(
                    executable: executable, port: candidate, password: password, directory: directory, child: child)
            } catch {
                lastError = error
            }
        }
        try? FileManager.default.removeItem(at: directory)
        throw lastError ?? Failure(description: "could not start redis-server")
    }

    deinit {
        // Not awaited: a test that forgot `stop()` must not block here. SIGKILL ends it at once.
        if let child = process.withLock({ $0.take() }) { _ = child.signal(SIGKILL) }
        try? FileManager.default.removeItem(at: directory)
    }

    /// The PID of the running server, if running.
    public var pid: Int32? { process.withLock { $0?.pid } }

    /// Sends SIGTERM to the PID and waits for the server to exit (SIGKILL after 10 s).
    public func stop() async throws {
        guard let child = process.withLock({ $0.take() }) else { return }
        let status = await child.terminate(grace: .seconds(10))
        if status == .signaled(SIGKILL) || status == nil {
            throw Failure(description: "redis-server (pid \(child.pid)) ignored SIGTERM for 10 s; killed")
        }
    }

    /// Starts the server again on the same port (stopping it first if it is running).
    public func restart() async throws {
        try await stop()
        var lastError: Error?
        // The old listening socket is gone once the process exited; retry briefly in case the kernel lags.
        for _ in 0..<20 {
            do {
                let child = try await Self.launch(executable, port: port, password: password, directory: directory)
                process.withLock { $0 = child }
                return
            } catch {
                lastError = error
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        throw lastError ?? Failure(description: "could not restart redis-server on port \(port)")
    }

    // MARK: - Helpers

    /// Spawns redis-server (output appended to a log file) and polls until it answers PING.
    private static func launch(
        _ executable: String, port: Int, password: String?, directory: URL
    ) async throws -> ChildProcess {
        let logFile = directory.appendingPathComponent("redis-\(port).log")
        var arguments = [
            "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", directory.path, "--daemonize", "no", "--logfile", "",
        ]
        if let password { arguments += ["--requirepass", password] }
        let child: ChildProcess
        do {
            child = try ChildProcess(executable: executable, arguments: arguments, logFile: logFile)
        } catch {
            throw Failure(description: "cannot launch \(executable): \(error)")
        }

        // Bounded polling until the server answers PING over TCP (or exits); the probe itself blocks, so it runs
        // on a Dispatch thread.
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if let status = child.exitStatus {
                throw Failure(
                    description: "redis-server exited (\(status)) on port \(port): " + logTail(child))
            }
            if try await offThePool({ Loopback.redisAnswersPing(port: port, timeout: .milliseconds(200)) }) {
                return child
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        _ = await child.terminate(grace: .zero)
        throw Failure(description: "redis-server did not answer PING on port \(port) within 10 s: " + logTail(child))
    }

    private static func logTail(_ child: ChildProcess) -> String {
        child.logTail(lines: 5).split(separator: "\n").joined(separator: " | ")
    }
}
