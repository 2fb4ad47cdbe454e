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
/// answer. `stop()` sends SIGTERM and waits; `restart()` comes back on the same port; `deinit` stops it and removes
/// the temp dir. The server runs as a ``ChildProcess``, so it stops on SIGTERM even though the test runner blocks or
/// ignores that signal.
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
    private let process = Mutex<ChildProcess?>(nil)

    /// Starts a server on a free port; `password` turns on `requirepass`.
    public init(password: String? = nil) throws {
        guard let executable = ChildProcess.findExecutable("redis-server") else {
            throw Failure(
                description: "redis-server not found on PATH or in /usr/local/bin, /usr/bin, /usr/sbin, /bin; "
                    + "install it (apt-get install redis-server) to run the Redis integration tests")
        }
        self.executable = executable
        self.password = password
        self.directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("redis-test-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)

        // A port from the kernel can be taken by someone else before redis binds it: try a few.
        var lastError: Error?
        for _ in 0..<5 {
            let candidate: Int
            do { candidate = try Self.freePort() } catch { lastError = error; continue }
            do {
                let child = try Self.launch(executable, port: candidate, password: password, directory: directory)
                self.port = candidate
                process.withLock { $0 = child }
                return
            } catch {
                lastError = error
            }
        }
        try? FileManager.default.removeItem(at: directory)
        throw lastError ?? Failure(description: "could not start redis-server")
    }

    deinit {
        try? stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// The PID of the running server, if running.
    public var pid: Int32? { process.withLock { $0?.pid } }

    /// Sends SIGTERM to the PID and waits for the server to exit (SIGKILL after 10 s).
    public func stop() throws {
        guard let child = process.withLock({ $0.take() }) else { return }
        let status = child.terminateBlocking(grace: .seconds(10))
        if status == .signaled(SIGKILL) || status == nil {
            throw Failure(description: "redis-server (pid \(child.pid)) ignored SIGTERM for 10 s; killed")
        }
    }

    /// Starts the server again on the same port (stopping it first if it is running).
    public func restart() throws {
        try stop()
        var lastError: Error?
        // The old listening socket is gone once the process exited; retry briefly in case the kernel lags.
        for _ in 0..<20 {
            do {
                let child = try Self.launch(executable, port: port, password: password, directory: directory)
                process.withLock { $0 = child }
                return
            } catch {
                lastError = error
                usleep(50_000)
            }
        }
        throw lastError ?? Failure(description: "could not restart redis-server on port \(port)")
    }

    // MARK: - Helpers

    /// Spawns redis-server (output appended to a log file) and polls until it answers PING.
    private static func launch(
        _ executable: String, port: Int, password: String?, directory: URL
    ) throws -> ChildProcess {
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

        // Bounded polling until the server answers PING over TCP (or exits).
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if let status = child.exitStatus {
                throw Failure(
                    description: "redis-server exited (\(status)) on port \(port): " + logTail(child))
            }
            if answersPing(port: port) { return child }
            usleep(10_000)
        }
        child.signal(SIGKILL)
        _ = child.waitForExitBlocking(timeout: .seconds(5))
        throw Failure(description: "redis-server did not answer PING on port \(port) within 10 s: " + logTail(child))
    }

    private static func logTail(_ child: ChildProcess) -> String {
        child.logTail(lines: 5).split(separator: "\n").joined(separator: " | ")
    }

    /// Asks the kernel for a free port by binding 127.0.0.1:0.
    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket() failed: errno \(errno)") }
        defer { close(fd) }
        var address = loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else { throw Failure(description: "bind(127.0.0.1:0) failed: errno \(errno)") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { throw Failure(description: "getsockname failed: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// True when a TCP connection to the port gets `+PONG` (or `-NOAUTH`, which also means it is serving).
    private static func answersPing(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = loopback(port: port)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { return false }
        let ping = Array("PING\r\n".utf8)
        guard write(fd, ping, ping.count) == ping.count else { return false }
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = read(fd, &buffer, buffer.count)
        guard count > 0 else { return false }
        let reply = String(decoding: buffer[0..<count], as: UTF8.self)
        return reply.hasPrefix("+PONG") || reply.hasPrefix("-NOAUTH")
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }
}
