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
/// signal at its default disposition, its standard output and error appended to a log file (or sent to separate
/// destinations), its standard input `/dev/null` or a descriptor the caller passes.
///
/// `Foundation.Process` children inherit the parent's blocked and ignored signals; a parent that runs
/// swift-service-lifecycle (or a test runner) ignores SIGTERM/SIGINT, so such children never stop on SIGTERM.
/// `ChildProcess` resets both, so `terminate(grace:)` works on any well-behaved program.
///
/// The exit status and the child's CPU time are collected with `wait4` on this PID only (never `wait(-1)`), and once
/// collected the PID is never signalled again, so a recycled PID cannot be hit. A `ChildProcess` that is released
/// while its process still runs kills it with SIGKILL, and so does this process's normal exit, so nothing outlives
/// its owner (or this process) by accident; call ``terminate(grace:)`` for a graceful stop.
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

    /// Where the child's standard output or standard error goes.
    public enum Output: Sendable, Hashable {
        /// `/dev/null`.
        case discard
        /// A file, created with its directory if missing; appended to, or emptied first when `append` is `false`.
        case file(URL, append: Bool = true)
        /// Standard error only: wherever standard output goes (one descriptor, so lines interleave in order).
        case standardOutput
    }

    /// CPU time a finished child used, as `wait4` reports it (its waited-for descendants included).
    public struct ResourceUsage: Sendable, Hashable {
        /// User-mode CPU seconds.
        public let userSeconds: Double
        /// Kernel-mode CPU seconds.
        public let systemSeconds: Double

        /// User plus system CPU seconds.
        public var cpuSeconds: Double { userSeconds + systemSeconds }

        /// Creates a usage from CPU seconds.
        public init(userSeconds: Double, systemSeconds: Double) {
            self.userSeconds = userSeconds
            self.systemSeconds = systemSeconds
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

    /// The executable's path (after the `PATH` lookup of a bare name).
    public let executable: String
    /// The arguments after the program name.
    public let arguments: [String]
    /// Where standard output goes.
    public let standardOutput: Output
    /// Where standard error goes.
    public let standardError: Output
    /// The file standard error goes to (with the `logFile:` initializer, standard output too), which
    /// ``logTail(lines:)`` reads; `nil` when standard error is discarded.
    public let logFile: URL?
    /// The process id.
    public let pid: pid_t

    /// The exit status and CPU time once collected; `nil` while running. Only changed inside the lock, where `wait4`
    /// runs too, so a status is collected exactly once and a signal is never sent after it was.
    private let collected = Mutex<Collected?>(nil)

    /// What `wait4` reported.
    private struct Collected {
        var status: ExitStatus
        /// `nil` when the status was collected elsewhere.
        var usage: ResourceUsage?
    }

    /// Spawns `executable` with `arguments`, standard output and error appended to one log file.
    ///
    /// - Parameters:
    ///   - executable: path of the program, or a bare name (no `/`) looked up with ``findExecutable(_:)``.
    ///   - arguments: arguments after the program name (`argv[1...]`).
    ///   - environment: variables added to (or replacing those of) this process's environment.
    ///   - removingEnvironment: variables of this process's environment the child must not see.
    ///   - workingDirectory: the child's current directory; `nil` keeps this process's.
    ///   - logFile: file that standard output and error are appended to (created, with its directory, if missing);
    ///     `nil` discards them. Standard input is `/dev/null`.
    ///   - newProcessGroup: puts the child in its own process group, so a terminal's Ctrl-C reaches only this
    ///     process, which then stops its children in order.
    public convenience init(
        executable: String,
        arguments: [String] = [],
        environment: [String: String] = [:],
        removingEnvironment: Set<String> = [],
        workingDirectory: URL? = nil,
        logFile: URL? = nil,
        newProcessGroup: Bool = false
    ) throws(Failure) {
        try self.init(
            executable: executable, arguments: arguments, environment: environment,
            removingEnvironment: removingEnvironment, workingDirectory: workingDirectory,
            standardOutput: logFile.map { .file($0, append: true) } ?? .discard, standardError: .standardOutput,
            newProcessGroup: newProcessGroup)
    }

    /// Spawns `executable` with `arguments`, with a chosen standard input and separate output destinations.
    ///
    /// - Parameters:
    ///   - executable: path of the program, or a bare name (no `/`) looked up with ``findExecutable(_:)``.
    ///   - arguments: arguments after the program name (`argv[1...]`).
    ///   - environment: variables added to (or replacing those of) this process's environment.
    ///   - removingEnvironment: variables of this process's environment the child must not see.
    ///   - workingDirectory: the child's current directory; `nil` keeps this process's.
    ///   - standardInput: a descriptor the child gets as its standard input (duplicated: the caller still owns it
    ///     and closes its copy when it likes); `nil` means `/dev/null`.
    ///   - standardOutput: where standard output goes; ``Output/standardOutput`` is not valid here.
    ///   - standardError: where standard error goes; by default the same place as standard output.
    ///   - newProcessGroup: puts the child in its own process group, so a terminal's Ctrl-C reaches only this
    ///     process, which then stops its children in order.
    public init(
        executable: String,
        arguments: [String] = [],
        environment: [String: String] = [:],
        removingEnvironment: Set<String> = [],
        workingDirectory: URL? = nil,
        standardInput: Int32? = nil,
        standardOutput: Output,
        standardError: Output = .standardOutput,
        newProcessGroup: Bool = false
    ) throws(Failure) {
        let path: String
        if executable.contains("/") {
            path = executable
        } else if let found = Self.findExecutable(executable) {
            path = found
        } else {
            throw Failure("\(executable) is not on PATH")
        }
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw Failure("\(path) is not an executable file")
        }
        if standardOutput == .standardOutput {
            throw Failure("cannot spawn \(path): standard output cannot go to standard output")
        }
        for case .file(let file, _) in [standardOutput, standardError] {
            do {
                try FileManager.default.createDirectory(
                    at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            } catch {
                throw Failure("cannot create the directory of \(file.path) for \(path): \(error)")
            }
        }
        self.executable = path
        self.arguments = arguments
        self.standardOutput = standardOutput
        self.standardError = standardError
        switch standardError == .standardOutput ? standardOutput : standardError {
        case .file(let file, _): logFile = file
        case .discard, .standardOutput: logFile = nil
        }

        var variables = ProcessInfo.processInfo.environment.filter { !removingEnvironment.contains($0.key) }
        variables.merge(environment) { $1 }
        let pid = try Self.spawn(
            executable: path, arguments: arguments, environment: variables, workingDirectory: workingDirectory,
            standardInput: standardInput, standardOutput: standardOutput, standardError: standardError,
            newProcessGroup: newProcessGroup)
        self.pid = pid
        Self.uncollected.withLock { _ = $0.insert(pid) }
        _ = Self.killedAtExit
    }

    // MARK: Children left at exit

    /// PIDs this process spawned whose status is not collected yet. A PID stays here until its status is collected,
    /// so it is never a recycled one.
    private static let uncollected = Mutex<Set<pid_t>>([])

    /// Registers, once, an `atexit` handler that SIGKILLs every child still running when this process exits
    /// normally: a child whose owner is still referenced then (a failed test's fixture held by a task) would
    /// otherwise outlive it, since `deinit` never runs. Found as `redis-server`s left behind by failing tests.
    private static let killedAtExit: Void = {
        atexit { ChildProcess.killUncollected() }
    }()

    /// SIGKILLs the uncollected children for which `including` is true.
    static func killUncollected(including: (pid_t) -> Bool = { _ in true }) {
        for pid in uncollected.withLock({ $0 }) where including(pid) { _ = kill(pid, SIGKILL) }
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

    /// The CPU time the process used, once it has exited; `nil` while it runs or when its status was collected
    /// elsewhere (``ExitStatus/unknown``).
    public var resourceUsage: ResourceUsage? {
        collected.withLock { collected in
            Self.collect(pid, into: &collected)
            return collected?.usage
        }
    }

    /// Sends `signal` to the process; returns `false` if it has already exited (and nothing was sent).
    @discardableResult
    public func signal(_ signal: Int32) -> Bool {
        collected.withLock { collected in
            Self.collect(pid, into: &collected)
            guard collected == nil else { return false }
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

    /// Waits for the process to exit, however long that takes, and returns its status as soon as it exits (no
    /// polling interval), so a caller can time a child. The wait runs on a thread of its own, off the cooperative
    /// pool; cancelling the task does not end it (bound it with ``terminate(grace:)`` from another task).
    public func waitForExit() async -> ExitStatus {
        if let status = collectStatus() { return status }
        return await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: self.waitUntilExit()) }.start()
        }
    }

    /// Blocks the calling thread until the process exits, however long that takes, and returns its status as soon
    /// as it exits; for synchronous callers. Never call it on the cooperative pool: use ``waitForExit()``.
    public func waitUntilExit() -> ExitStatus {
        while true {
            if let status = collectStatus() { return status }
            // Sleep until the process has exited without reaping it (WNOWAIT): the status is collected under the
            // lock, so `signal` can never hit a reaped (and possibly recycled) PID.
            var info = siginfo_t()
            if waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) < 0, errno != EINTR, errno != ECHILD {
                usleep(5_000)  // not expected; poll rather than spin
            }
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
        return await waitForExit(timeout: .seconds(5))
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
        collected.withLock { collected in
            Self.collect(pid, into: &collected)
            return collected?.status
        }
    }

    /// Collects the exit status and CPU time without blocking if the process has ended and `collected` is still
    /// `nil`.
    private static func collect(_ pid: pid_t, into collected: inout Collected?) {
        guard collected == nil else { return }
        var raw: Int32 = 0
        var usage = rusage()
        var result: pid_t
        repeat { result = wait4(pid, &raw, WNOHANG, &usage) } while result < 0 && errno == EINTR
        if result == pid {
            collected = Collected(status: decode(raw), usage: ResourceUsage(
                userSeconds: seconds(usage.ru_utime), systemSeconds: seconds(usage.ru_stime)))
        } else if result < 0 && errno == ECHILD {
            collected = Collected(status: .unknown, usage: nil)
        }
        if collected != nil { uncollected.withLock { _ = $0.remove(pid) } }
    }

    private static func seconds(_ time: timeval) -> Double {
        Double(time.tv_sec) + Double(time.tv_usec) / 1e6
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
        executable: String, arguments: [String], environment: [String: String], workingDirectory: URL?,
        standardInput: Int32?, standardOutput: Output, standardError: Output, newProcessGroup: Bool
    ) throws(Failure) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let standardInput {
            // dup2 clears FD_CLOEXEC on the copy, so a close-on-exec pipe end still reaches the child.
            posix_spawn_file_actions_adddup2(&actions, standardInput, STDIN_FILENO)
        } else {
            posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0)
        }
        for (descriptor, output) in [(STDOUT_FILENO, standardOutput), (STDERR_FILENO, standardError)] {
            switch output {
            case .discard:
                posix_spawn_file_actions_addopen(&actions, descriptor, "/dev/null", O_WRONLY, 0)
            case .file(let file, let append):
                posix_spawn_file_actions_addopen(
                    &actions, descriptor, file.path, O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC), 0o644)
            case .standardOutput:
                posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, descriptor)
            }
        }
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
