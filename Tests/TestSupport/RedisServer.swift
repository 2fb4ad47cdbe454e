import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A real `redis-server` on 127.0.0.1 and a free port, in its own temp dir, for integration tests.
///
/// Starting fails with a clear error (so the test fails, never skips) when `redis-server` is missing or does not
/// answer. `stop()` sends SIGTERM and waits; `restart()` comes back on the same port; `deinit` stops it and removes
/// the temp dir.
public final class RedisServerProcess: @unchecked Sendable {
    // @unchecked Sendable: `processID` is only read and written inside `lock`; the rest is immutable after init.

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
    private let lock = NSLock()
    private var processID: pid_t?

    /// Starts a server on a free port; `password` turns on `requirepass`.
    public init(password: String? = nil) throws {
        guard let executable = Self.findExecutable("redis-server") else {
            throw Failure(
                description: "redis-server not found on PATH or in /usr/bin, /usr/local/bin, /usr/sbin; "
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
                let pid = try Self.launch(executable, port: candidate, password: password, directory: directory)
                self.port = candidate
                self.processID = pid
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
    public var pid: Int32? { lock.withLock { processID } }

    /// Sends SIGTERM to the PID and waits for the server to exit (SIGKILL after 10 s).
    public func stop() throws {
        let pid: pid_t? = lock.withLock {
            defer { processID = nil }
            return processID
        }
        guard let pid else { return }
        kill(pid, SIGTERM)
        if !Self.waitForExit(pid, seconds: 10) {
            kill(pid, SIGKILL)
            _ = Self.waitForExit(pid, seconds: 5)
            throw Failure(description: "redis-server (pid \(pid)) ignored SIGTERM for 10 s; killed")
        }
    }

    /// Starts the server again on the same port (stopping it first if it is running).
    public func restart() throws {
        try stop()
        var lastError: Error?
        // The old listening socket is gone once the process exited; retry briefly in case the kernel lags.
        for _ in 0..<20 {
            do {
                let pid = try Self.launch(executable, port: port, password: password, directory: directory)
                lock.withLock { processID = pid }
                return
            } catch {
                lastError = error
                usleep(50_000)
            }
        }
        throw lastError ?? Failure(description: "could not restart redis-server on port \(port)")
    }

    // MARK: - Helpers

    /// Spawns redis-server (stdio to /dev/null, log to a file) and polls until it answers PING.
    private static func launch(_ executable: String, port: Int, password: String?, directory: URL) throws -> pid_t {
        let logFile = directory.appendingPathComponent("redis-\(port).log")
        var arguments = [
            executable, "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", directory.path, "--daemonize", "no", "--logfile", logFile.path,
        ]
        if let password { arguments += ["--requirepass", password] }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for descriptor in [STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO] {
            let mode = descriptor == STDIN_FILENO ? O_RDONLY : O_WRONLY
            posix_spawn_file_actions_addopen(&actions, descriptor, "/dev/null", mode, 0)
        }

        // The test runner's threads may block or ignore signals; the server must start with a clean slate so that
        // SIGTERM stops it.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        var defaultSignals = sigset_t()
        sigemptyset(&defaultSignals)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGCHLD] { sigaddset(&defaultSignals, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaultSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
        guard status == 0 else {
            throw Failure(description: "cannot launch \(executable): \(String(cString: strerror(status)))")
        }

        // Bounded polling until the server answers PING over TCP (or exits).
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            var exitStatus: Int32 = 0
            if waitpid(pid, &exitStatus, WNOHANG) == pid {
                throw Failure(
                    description: "redis-server exited (wait status \(exitStatus)) on port \(port): "
                        + logTail(logFile))
            }
            if answersPing(port: port) { return pid }
            usleep(10_000)
        }
        kill(pid, SIGKILL)
        _ = waitForExit(pid, seconds: 5)
        throw Failure(description: "redis-server did not answer PING on port \(port) within 10 s: " + logTail(logFile))
    }

    /// Reaps the child, polling `waitpid` for at most `seconds`.
    private static func waitForExit(_ pid: pid_t, seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            var exitStatus: Int32 = 0
            let result = waitpid(pid, &exitStatus, WNOHANG)
            if result == pid || (result < 0 && errno == ECHILD) { return true }
            if Date() >= deadline { return false }
            usleep(5_000)
        }
    }

    private static func logTail(_ file: URL) -> String {
        let text = (try? String(contentsOf: file, encoding: .utf8)) ?? ""
        let tail = text.split(separator: "\n").suffix(5).joined(separator: " | ")
        return tail.isEmpty ? "(no log output)" : tail
    }

    private static func findExecutable(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let directories = path.split(separator: ":").map(String.init) + ["/usr/bin", "/usr/local/bin", "/usr/sbin"]
        return directories
            .map { URL(fileURLWithPath: $0).appendingPathComponent(name).path }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
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
