import Foundation
@testable import Runtime
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite("ChildProcess", .timeLimit(.minutes(1)))
struct ChildProcessTests {
    @Test("environment, working directory, exit status and both output streams in the log file")
    func environmentDirectoryAndLog() async throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("child-process-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let log = directory.appendingPathComponent("logs/child.log")
        let child = try ChildProcess(
            executable: "/bin/sh", arguments: ["-c", "echo \"$CHILD_TEST_VALUE $(pwd)\"; echo to-stderr >&2; exit 7"],
            environment: ["CHILD_TEST_VALUE": "hello"], workingDirectory: directory.resolvingSymlinksInPath(),
            logFile: log)
        #expect(await child.waitForExit(timeout: .seconds(10)) == .exited(7))
        #expect(!child.isRunning)
        let text = try String(contentsOf: log, encoding: .utf8)
        #expect(text.contains("hello \(directory.resolvingSymlinksInPath().path)"), "log: \(text)")
        #expect(text.contains("to-stderr"), "log: \(text)")
        #expect(child.logTail(lines: 1) == "to-stderr")
        #expect(!child.signal(SIGTERM), "no signal is sent once the status is collected")
    }

    @Test("a child stops on a signal this process blocks and ignores")
    func signalsAreReset() throws {
        // This thread blocks SIGUSR2 and the process ignores it; posix_spawn would pass both on without the reset.
        var blocked = sigset_t()
        sigemptyset(&blocked)
        sigaddset(&blocked, SIGUSR2)
        var previousMask = sigset_t()
        pthread_sigmask(SIG_BLOCK, &blocked, &previousMask)
        let previousHandler = signal(SIGUSR2, SIG_IGN)
        let child: ChildProcess
        do {
            defer {
                signal(SIGUSR2, previousHandler)
                pthread_sigmask(SIG_SETMASK, &previousMask, nil)
            }
            child = try ChildProcess(executable: "/bin/sleep", arguments: ["30"])
        }
        #expect(child.signal(SIGUSR2))
        #expect(child.waitForExitBlocking(timeout: .seconds(10)) == .signaled(SIGUSR2))
    }

    @Test("children still running when the process exits are killed (the exit handler's work, here for one child)")
    func uncollectedChildrenAreKilled() throws {
        let child = try ChildProcess(executable: "/bin/sleep", arguments: ["30"])
        let finished = try ChildProcess(executable: "/bin/true")
        #expect(finished.waitForExitBlocking(timeout: .seconds(10)) == .exited(0))
        ChildProcess.killUncollected { $0 == child.pid || $0 == finished.pid }
        #expect(child.waitForExitBlocking(timeout: .seconds(10)) == .signaled(SIGKILL))
        #expect(finished.exitStatus == .exited(0), "a collected child is not signalled again")
    }

    @Test("terminate sends SIGTERM, and SIGKILL after the grace period when SIGTERM is ignored")
    func terminateEscalates() async throws {
        let polite = try ChildProcess(executable: "/bin/sleep", arguments: ["30"])
        #expect(await polite.terminate(grace: .seconds(5)) == .signaled(SIGTERM))

        let stubborn = try ChildProcess(
            executable: "/bin/sh", arguments: ["-c", "trap '' TERM; echo trapped; while :; do sleep 0.05; done"],
            logFile: FileManager.default.temporaryDirectory.appendingPathComponent("child-\(UUID().uuidString).log"))
        defer { try? FileManager.default.removeItem(at: stubborn.logFile!) }
        // Wait until the trap is installed, or SIGTERM would end the shell before it ignores SIGTERM.
        let deadline = ContinuousClock.now + .seconds(10)
        while stubborn.logTail() != "trapped", ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(await stubborn.terminate(grace: .milliseconds(300)) == .signaled(SIGKILL))
    }

    @Test("standard input from a pipe the caller holds")
    func standardInputFromPipe() async throws {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("child-\(UUID().uuidString).out")
        defer { try? FileManager.default.removeItem(at: output) }
        var fds: [Int32] = [0, 0]
        try #require(pipe(&fds) == 0)
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }  // the child must get its stdin only through the dup
        let child: ChildProcess
        do {
            defer { close(fds[0]) }
            child = try ChildProcess(
                executable: "/bin/sh", arguments: ["-c", "read line; echo \"got $line\"; cat >/dev/null; echo eof"],
                standardInput: fds[0], standardOutput: .file(output))
        }
        let line = Array("from the pipe\n".utf8)
        #expect(write(fds[1], line, line.count) == line.count)
        close(fds[1])  // the child's `cat` ends only once every writer is closed
        #expect(await child.waitForExit() == .exited(0))
        #expect(try String(contentsOf: output, encoding: .utf8) == "got from the pipe\neof\n")
    }

    @Test("standard output and standard error to separate files, replaced or appended")
    func separateOutputs() async throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("child-process-\(UUID().uuidString)", isDirectory: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let out = directory.appendingPathComponent("out/child.out")
        let err = directory.appendingPathComponent("err/child.err")
        for _ in 0..<2 {
            let child = try ChildProcess(
                executable: "/bin/sh", arguments: ["-c", "echo to-stdout; echo to-stderr >&2"],
                standardOutput: .file(out, append: false), standardError: .file(err, append: true))
            #expect(child.waitUntilExit() == .exited(0))
            #expect(child.logFile == err)
            #expect(child.logTail(lines: 1) == "to-stderr")
        }
        #expect(try String(contentsOf: out, encoding: .utf8) == "to-stdout\n", "replaced on each run")
        #expect(try String(contentsOf: err, encoding: .utf8) == "to-stderr\nto-stderr\n", "appended on each run")

        let quiet = try ChildProcess(
            executable: "/bin/sh", arguments: ["-c", "echo to-stdout; echo to-stderr >&2"],
            standardOutput: .file(out, append: false), standardError: .discard)
        #expect(await quiet.waitForExit() == .exited(0))
        #expect(quiet.logFile == nil)
        #expect(try String(contentsOf: out, encoding: .utf8) == "to-stdout\n")
    }

    @Test("the exit information reports the CPU time the child used")
    func resourceUsage() async throws {
        let child = try ChildProcess(
            executable: "/bin/sh", arguments: ["-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done"],
            standardOutput: .discard)
        #expect(await child.waitForExit() == .exited(0))
        let usage = try #require(child.resourceUsage)
        #expect(usage.cpuSeconds > 0, "usage: \(usage)")
        #expect(usage.cpuSeconds == usage.userSeconds + usage.systemSeconds)
    }

    @Test("a bare program name is looked up on PATH")
    func pathLookup() throws {
        let child = try ChildProcess(executable: "sh", arguments: ["-c", "exit 3"], standardOutput: .discard)
        #expect(child.executable.hasPrefix("/") && child.executable.hasSuffix("/sh"), "\(child.executable)")
        #expect(child.waitUntilExit() == .exited(3))
        #expect {
            _ = try ChildProcess(executable: "biometrics-no-such-program", standardOutput: .discard)
        } throws: { error in
            "\(error)".contains("biometrics-no-such-program")
        }
    }

    @Test("a missing executable is a clear error, not a crash")
    func missingExecutable() {
        #expect {
            _ = try ChildProcess(executable: "/nonexistent/biometrics-child")
        } throws: { error in
            "\(error)".contains("/nonexistent/biometrics-child")
        }
    }
}
