import Dispatch
import Foundation
import Logging
import Synchronization

/// One dedicated OS thread that owns one `RedisConnection` and runs submitted jobs in order.
///
/// Why a thread per connection: hiredis's synchronous API blocks in `connect`, `write` and `read`. Running it on
/// Swift's cooperative pool would park one of its few threads (one per core) for a whole round trip or timeout,
/// starving unrelated tasks. A small pool (default 4) of dedicated threads keeps blocking off the pool, gives each
/// `redisContext` a single owner (no locking around C state), and preserves per-connection ordering for pipelines.
///
/// Every job queued while the thread was busy goes out in one pipeline: one write, and each job resumed as soon as
/// its own replies are read. Under load that is one thread wake-up and one write per batch instead of per command.
final class ConnectionWorker: Sendable {
    /// Commands to pipeline, and what to call with their replies (on the I/O thread).
    struct Job: Sendable {
        let commands: [[[UInt8]]]
        let complete: @Sendable (Result<[RedisValue], RedisError>) -> Void
    }

    private struct State {
        var jobs: [Job] = []
        /// Jobs submitted and not yet finished (queued + running): the pool picks the least loaded worker.
        var load = 0
        var closing = false
        var exited = false
        var exitWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())
    /// Signalled once per enqueued job and once for shutdown; the thread sleeps on it when idle.
    private let wakeup = DispatchSemaphore(value: 0)

    /// Starts the I/O thread; the connection itself is opened lazily by the first job.
    init(configuration: RedisConfiguration, index: Int, logger: Logger) {
        let thread = Thread { [self] in
            let connection = RedisConnection(configuration: configuration, index: index, logger: logger)
            run(connection)
            connection.disconnect()
            let waiters = state.withLock { state in
                state.exited = true
                return state.exitWaiters
            }
            for waiter in waiters { waiter.resume() }
        }
        thread.name = "redis-io-\(index)"
        thread.start()
    }

    /// Pipelines `commands` on the I/O thread and returns their replies; fails with `clientClosed` after `shutdown()`.
    func submit(_ commands: [[[UInt8]]]) async throws(RedisError) -> [RedisValue] {
        let result: Result<[RedisValue], RedisError> = await withCheckedContinuation { continuation in
            let accepted = state.withLock { state in
                guard !state.closing else { return false }
                state.load += 1
                state.jobs.append(Job(commands: commands) { [self] result in
                    self.state.withLock { $0.load -= 1 }
                    continuation.resume(returning: result)
                })
                return true
            }
            if accepted {
                wakeup.signal()
            } else {
                let closed = RedisError(code: .clientClosed, message: "the Redis client is closed")
                continuation.resume(returning: .failure(closed))
            }
        }
        return try result.get()
    }

    /// Jobs submitted and not yet finished.
    var load: Int { state.withLock { $0.load } }

    /// Stops accepting jobs; the thread finishes the queued ones, frees its connection and exits.
    func shutdown() {
        let first = state.withLock { state in
            defer { state.closing = true }
            return !state.closing
        }
        if first { wakeup.signal() }
    }

    /// Waits until the thread has exited (and so its connection is closed).
    func waitForExit() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let exited = state.withLock { state in
                if !state.exited { state.exitWaiters.append(continuation) }
                return state.exited
            }
            if exited { continuation.resume() }
        }
    }

    private func run(_ connection: RedisConnection) {
        while true {
            wakeup.wait()
            // Take every queued job at once; a signal left over from a taken job only causes an empty pass.
            let (jobs, closing) = state.withLock { state in
                defer { state.jobs.removeAll(keepingCapacity: true) }
                return (state.jobs, state.closing)
            }
            if !jobs.isEmpty { connection.execute(jobs) }
            // Once closing is set no job can be added, so an empty queue then stays empty.
            if closing && jobs.isEmpty { return }
            if closing { wakeup.signal() }  // drain what was queued before shutdown, then see the empty queue
        }
    }
}
