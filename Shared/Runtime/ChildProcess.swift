import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A child process that reliably stops on SIGTERM: spawned with `posix_spawn`, an empty signal mask and every
/// signal at its default disposition, its standard output and error appended to a log file.
///
/// `Foundation.Process` children inherit the parent's blocked and ignored signals; a parent that runs
/// swift-service-lifecycle (or a test runner) ignores SIGTERM/SIGINT, so such children never stop on SIGTERM.
/// `ChildProcess` resets both, so `terminate(grace:)` works on any well-behaved program.
///
/// The exit status is collected with `waitpid` on this PID only (never `wait(-1)`), and once collected the PID is
/// never signalled again, so a recycled PID cannot be hit. A `ChildProcess` that is released while its process still
/// runs kills it with SIGKILL, so nothing outlives its owner by accident; call ``terminate(grace:)``
/// for a graceful stop.
public final class ChildProcess: Sendable {
    /// How a child process ended.
    public enum ExitStatus: Sendable, Hashable, CustomStringConvertible {
        /// It called `exit` with this status.
        case exited(Int32)
        /// A signal with this number ended it.
        case signaled(Int32)
        /// Someone else collected its status (e.g. `SIGCHLD` ignored in this process), so it is gone but unknown.
        case unknown

        /// Whether it exited with status 0.
        public var isSuccess: Bool { self == .exited(0) }

        /// `exit status 1`, `signal 9 (SIGKILL)`, …
        public var description: String {
            switch self {
            case .exited(let code): return "exit status \(code)"
            case .signaled(let signal): return "signal \(signal)\(ChildProcess.signalName(signal).map { " (\($0))" } ?? "")"
            case .unknown: return "unknown exit status (collected elsewhere)"
            }
        }
    }

    /// Why a process could not be spawned.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        /// What went wrong, naming the executable.
        public let description: String

        /// Creates a failure.
        public init(_ description: String) {
            self.description = description
        }
    }

    /// The executable's path.
    public let executable: String
    /// The arguments after the program name.
    public let arguments: [String]
    /// Where standard output and error are appended; `nil` sends them to `/dev/null`.
    public let logFile: URL?
    /// The process id.
    public let pid: pid_t

    /// The exit status once collected; `nil` while running. Only changed inside the lock, where `waitpid` runs too,
    /// so a status is collected exactly once and a signal is never sent after it was.
    private let status = Mutex<ExitStatus?>(nil)

    /// Spawns `executable` with `arguments`.
    ///
    /// - Parameters:
    ///   - executable: path of the program (see ``findExecutable(_:)`` to look a name up on `PATH`).
    ///   - arguments: arguments after the program name (`argv[1...]`).
    ///   - environment: variables added to (or replacing those of) this process's environment.
    ///   - removingEnvironment: variables of this process's environment the child must not see.
    ///   - workingDirectory: the child's current directory; `nil` keeps this process's.
    ///   - logFile: file that standard output and error are appended to (created, with its directory, if missing);
    ///     `nil` discards them. Standard input is always `/dev/null`.
    ///   - newProcessGroup: puts the child in its own process group, so a terminal's Ctrl-C reaches only this
    ///     process, which then stops its children in order.
    public init(
        executable: String,
        arguments: [String] = [],
        environment: [String: String] = [:],
        removingEnvironment: Set<String> = [],
        workingDirectory: URL? = nil,
        logFile: URL? = nil,
        newProcessGroup: Bool = false
    ) throws(Failure) {
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw Failure("\(executable) is not an executable file")
        }
        if let logFile {
            do {
                try FileManager.default.createDirectory(
                    at: logFile.deletingLastPathComponent(), withIntermediateDirectories: true)
            } catch {
                throw Failure("cannot create the log directory for \(executable): \(error)")
            }
        }
        self.executable = executable
        self.arguments = arguments
        self.logFile = logFile

        var variables = ProcessInfo.processInfo.environment.filter { !removingEnvironment.contains($0.key) }
        variables.merge(environment) { $1 }
        self.pid = try Self.spawn(
            executable: executable, arguments: arguments, environment: variables,
            workingDirectory: workingDirectory, logFile: logFile, newProcessGroup: newProcessGroup)
    }

    deinit {
        if collectStatus() == nil {
            _ = signal(SIGKILL)
            _ = waitForExitBlocking(timeout: .seconds(5))
        }
    }

    // MARK: State

    /// Whether the process is still running (collects its exit status if it has ended).
    public var isRunning: Bool { collectStatus() == nil }

    /// The exit status, or `nil` while the process runs.
    public var exitStatus: ExitStatus? { collectStatus() }

    /// Sends `signal` to the process; returns `false` if it has already exited (and nothing was sent).
    @discardableResult
    public func signal(_ signal: Int32) -> Bool {
        status.withLock { status in
            Self.collect(pid, into: &status)
            guard status == nil else { return false }
            return kill(pid, signal) == 0
        }
    }

    // MARK: Waiting

    /// Waits up to `timeout` for the process to exit and returns its status; `nil` on timeout or when the calling
    /// task is cancelled.
    public func waitForExit(timeout: Duration) async -> ExitStatus? {
        let deadline = ContinuousClock.now + timeout
        var interval = Duration.milliseconds(5)
        while true {
            if let status = collectStatus() { return status }
            if ContinuousClock.now >= deadline || Task.isCancelled { return nil }
            do {
                try await Task.sleep(for: min(interval, deadline - ContinuousClock.now))
            } catch {
                return collectStatus()
            }
            interval = min(interval * 2, .milliseconds(100))
        }
    }

    /// Blocks the calling thread up to `timeout` for the process to exit and returns its status; `nil` on timeout.
    ///
    /// For synchronous callers (`deinit`, non-async tests); async code should use ``waitForExit(timeout:)``.
    public func waitForExitBlocking(timeout: Duration) -> ExitStatus? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let status = collectStatus() { return status }
            if ContinuousClock.now >= deadline { return nil }
            usleep(5_000)
        }
    }

    /// Sends SIGTERM, waits up to `grace` for the process to exit, then sends SIGKILL; returns how it ended.
    ///
    /// `.signaled(SIGKILL)` means it ignored SIGTERM for the whole grace period. Returns `nil` only if even SIGKILL
    /// did not end it within 5 s (a process stuck in the kernel). A cancelled task skips the rest of the grace period.
    @discardableResult
    public func terminate(grace: Duration) async -> ExitStatus? {
        if let status = collectStatus() { return status }
        signal(SIGTERM)
        if let status = await waitForExit(timeout: grace) { return status }
        signal(SIGKILL)
        return waitForExitBlocking(timeout: .seconds(5))
    }

    /// Like ``terminate(grace:)`` but blocks the calling thread; for synchronous callers.
    @discardableResult
    public func terminateBlocking(grace: Duration) -> ExitStatus? {
        if let status = collectStatus() { return status }
        signal(SIGTERM)
        if let status = waitForExitBlocking(timeout: grace) { return status }
        signal(SIGKILL)
        return waitForExitBlocking(timeout: .seconds(5))
    }

    // MARK: Log

    /// The last `lines` lines of the log file (at most its last 64 KiB), or `(no log output)`.
    public func logTail(lines: Int = 20) -> String {
        guard let logFile, let handle = try? FileHandle(forReadingFrom: logFile) else { return "(no log output)" }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        try? handle.seek(toOffset: size > 65_536 ? size - 65_536 : 0)
        let data = (try? handle.readToEnd()) ?? Data()
        let tail = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: true)
            .suffix(lines).joined(separator: "\n")
        return tail.isEmpty ? "(no log output)" : tail
    }

    // MARK: Helpers

    /// The first executable file called `name` in `PATH`, then `/usr/local/bin`, `/usr/bin`, `/usr/sbin`, `/bin`.
    public static func findExecutable(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let directories = path.split(separator: ":").map(String.init) + ["/usr/local/bin", "/usr/bin", "/usr/sbin", "/bin"]
        return directories
            .map { URL(fileURLWithPath: $0).appendingPathComponent(name).path }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    private func collectStatus() -> ExitStatus? {
        status.withLock { status in
            Self.collect(pid, into: &status)
            return status
        }
    }

    /// Collects the exit status without blocking if the process has ended and `status` is still `nil`.
    private static func collect(_ pid: pid_t, into status: inout ExitStatus?) {
        guard status == nil else { return }
        var raw: Int32 = 0
        var result: pid_t
        repeat { result = waitpid(pid, &raw, WNOHANG) } while result < 0 && errno == EINTR
        if result == pid {
            status = decode(raw)
        } else if result < 0 && errno == ECHILD {
            status = .unknown
        }
    }

    /// Decodes a `waitpid` status (the `WIFEXITED`/`WTERMSIG` macros are not available to Swift).
    private static func decode(_ raw: Int32) -> ExitStatus {
        let low = raw & 0x7f
        if low == 0 { return .exited((raw >> 8) & 0xff) }
        return .signaled(low)
    }

    private static func signalName(_ signal: Int32) -> String? {
        switch signal {
        case SIGTERM: return "SIGTERM"
        case SIGKILL: return "SIGKILL"
        case SIGINT: return "SIGINT"
        case SIGSEGV: return "SIGSEGV"
        case SIGABRT: return "SIGABRT"
        case SIGILL: return "SIGILL"
        case SIGTRAP: return "SIGTRAP"
        case SIGBUS: return "SIGBUS"
        case SIGHUP: return "SIGHUP"
        case SIGPIPE: return "SIGPIPE"
        default: return nil
        }
    }

    private static func spawn(
        executable: String, arguments: [String], environment: [String: String],
        workingDirectory: URL?, logFile: URL?, newProcessGroup: Bool
    ) throws(Failure) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(
            &actions, STDOUT_FILENO, logFile?.path ?? "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO)
        if let workingDirectory {
            guard addChangeDirectory(&actions, workingDirectory.path) else {
                throw Failure("cannot spawn \(executable) in \(workingDirectory.path): this C library has no "
                    + "posix_spawn_file_actions_addchdir_np")
            }
        }
        closeInheritedDescriptors(&actions)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Nothing blocked, nothing ignored: the child reacts to SIGTERM/SIGINT whatever this process does with them.
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        sigdelset(&allSignals, SIGKILL)
        sigdelset(&allSignals, SIGSTOP)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        var flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF
        if newProcessGroup {
            posix_spawnattr_setpgroup(&attributes, 0)
            flags |= POSIX_SPAWN_SETPGROUP
        }
        #if canImport(Darwin)
        flags |= POSIX_SPAWN_CLOEXEC_DEFAULT
        #endif
        posix_spawnattr_setflags(&attributes, Int16(flags))

        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        let envp: [UnsafeMutablePointer<CChar>?] =
            environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in envp { free(pointer) } }

        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard result == 0 else {
            let directory = workingDirectory.map { " in \($0.path)" } ?? ""
            throw Failure("cannot spawn \(executable)\(directory): \(String(cString: strerror(result)))")
        }
        return pid
    }

    /// Keeps descriptors this process opened without `O_CLOEXEC` (sockets, pipes) out of the child, so a child
    /// never holds this process's listening ports open. On Darwin `POSIX_SPAWN_CLOEXEC_DEFAULT` does it; on glibc
    /// `posix_spawn_file_actions_addclosefrom_np` (2.34+) does, when this C library has it.
    private static func closeInheritedDescriptors(_ actions: inout posix_spawn_file_actions_t) {
        #if os(Linux)
        typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32
        guard let symbol = UnsafeRawPointer(bitPattern: LibcSymbols.addCloseFrom) else { return }
        _ = unsafeBitCast(symbol, to: AddCloseFrom.self)(&actions, STDERR_FILENO + 1)
        #endif
    }

    /// Adds a `chdir` to the spawn actions; `false` when this C library cannot (glibc before 2.29).
    private static func addChangeDirectory(_ actions: inout posix_spawn_file_actions_t, _ path: String) -> Bool {
        #if os(Linux)
        typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, UnsafePointer<CChar>?) -> Int32
        guard let symbol = UnsafeRawPointer(bitPattern: LibcSymbols.addChdir) else { return false }
        return unsafeBitCast(symbol, to: AddChdir.self)(&actions, path) == 0
        #else
        return posix_spawn_file_actions_addchdir_np(&actions, path) == 0
        #endif
    }
}

#if os(Linux)
/// glibc's `posix_spawn` extensions, looked up at run time: the Glibc module does not export them, and older glibc
/// versions lack them. Addresses are integers (0 when missing) so the constants are `Sendable`.
private enum LibcSymbols {
    static let addCloseFrom = UInt(bitPattern: dlsym(nil, "posix_spawn_file_actions_addclosefrom_np"))
    static let addChdir = UInt(bitPattern: dlsym(nil, "posix_spawn_file_actions_addchdir_np"))
}
#endif
