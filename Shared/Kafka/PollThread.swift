import Foundation
import Synchronization

/// A dedicated OS thread that runs one librdkafka poll loop until stopped.
///
/// librdkafka's poll calls block inside the C library until an event arrives (or a short timeout, so `stop()`
/// is noticed); they wake as soon as a delivery report or message is ready, so latency does not depend on a sleep.
final class PollThread: Sendable {
    private let running = Atomic<Bool>(true)
    private let finished = DispatchSemaphore(value: 0)
    private let wake: @Sendable () -> Void

    /// Starts `iteration` in a loop on a new thread; it should block for at most ~100 ms per call. `wake` makes a
    /// blocked iteration return early (`rd_kafka_queue_yield` on the polled queue), so stopping does not wait out
    /// the poll timeout.
    init(name: String, wake: @escaping @Sendable () -> Void = {}, iteration: @escaping @Sendable () -> Void) {
        self.wake = wake
        // The thread holds `self` until the loop ends; `stopAndJoin()` ends it.
        let thread = Thread { [self] in
            while running.load(ordering: .acquiring) {
                iteration()
            }
            finished.signal()
        }
        thread.name = name
        thread.start()
    }

    /// Whether the loop is still running.
    var isRunning: Bool { running.load(ordering: .acquiring) }

    /// Asks the loop to end and waits for the thread to finish its current iteration. Blocking.
    func stopAndJoin() {
        guard running.exchange(false, ordering: .acquiringAndReleasing) else { return }
        wake()
        finished.wait()
    }
}
