import Dispatch
import Synchronization

/// The bounded hand-off between a consumer's poll thread and its async readers.
///
/// The poll thread appends whole batches and waits (on a semaphore, off the cooperative pool) while the buffer is
/// full; readers suspend on a continuation while it is empty.
final class MessageBuffer: Sendable {
    private struct State {
        var items: [KafkaMessage] = []
        var head = 0
        var readers: [(id: UInt64, continuation: CheckedContinuation<KafkaMessage?, Never>)] = []
        var nextReaderId: UInt64 = 0
        var finished = false
        var pollThreadWaiting = false

        var count: Int { items.count - head }

        mutating func popFirst() -> KafkaMessage? {
            guard head < items.count else { return nil }
            let item = items[head]
            head += 1
            if head > 1024 && head * 2 > items.count {
                items.removeFirst(head)
                head = 0
            }
            return item
        }
    }

    private let capacity: Int
    private let state = Mutex(State())
    private let space = DispatchSemaphore(value: 0)

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// Poll thread: true when there is room for another batch; otherwise waits up to `timeoutMs` and returns false.
    func waitForSpace(timeoutMs: Int) -> Bool {
        let full = state.withLock { state -> Bool in
            let full = state.count >= capacity
            state.pollThreadWaiting = full
            return full
        }
        guard full else { return true }
        _ = space.wait(timeout: .now() + .milliseconds(timeoutMs))
        return false
    }

    /// Ends a poll thread's wait for space early (when it is being stopped).
    func wakePollThread() {
        space.signal()
    }

    /// Poll thread: hands over a batch, resuming waiting readers first.
    func append(_ batch: [KafkaMessage]) {
        guard !batch.isEmpty else { return }
        var resumed: [(CheckedContinuation<KafkaMessage?, Never>, KafkaMessage)] = []
        state.withLock { state in
            var rest = batch[...]
            while !state.readers.isEmpty, let message = rest.first {
                resumed.append((state.readers.removeFirst().continuation, message))
                rest = rest.dropFirst()
            }
            state.items.append(contentsOf: rest)
        }
        for (reader, message) in resumed { reader.resume(returning: message) }
    }

    /// Reader: the next message, or nil once finished and drained, when the task is cancelled, or after `timeout`.
    func next(timeout: Duration? = nil) async -> KafkaMessage? {
        if let (message, wake) = take() {
            if wake { space.signal() }
            return message
        }
        let id = state.withLock { state in
            state.nextReaderId += 1
            return state.nextReaderId
        }
        let timer = timeout.map { timeout in
            Task { [weak self] in
                try await Task.sleep(for: timeout)
                self?.abandonReader(id)
            }
        }
        defer { timer?.cancel() }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let immediate = state.withLock { state -> KafkaMessage?? in
                    if let message = state.popFirst() { return .some(message) }
                    if state.finished || Task.isCancelled { return .some(nil) }
                    state.readers.append((id, continuation))
                    return nil
                }
                if let message = immediate { continuation.resume(returning: message) }
            }
        } onCancel: {
            abandonReader(id)
        }
    }

    /// Resumes a waiting reader with nil (timeout or cancellation), if it is still waiting.
    private func abandonReader(_ id: UInt64) {
        let reader = state.withLock { state -> CheckedContinuation<KafkaMessage?, Never>? in
            guard let index = state.readers.firstIndex(where: { $0.id == id }) else { return nil }
            return state.readers.remove(at: index).continuation
        }
        reader?.resume(returning: nil)
    }

    private func take() -> (KafkaMessage, Bool)? {
        state.withLock { state in
            guard let message = state.popFirst() else { return nil }
            var wake = false
            if state.pollThreadWaiting && state.count <= capacity / 2 {
                state.pollThreadWaiting = false
                wake = true
            }
            return (message, wake)
        }
    }

    /// Drops buffered messages that match (after a seek).
    func removeAll(where predicate: (KafkaMessage) -> Bool) {
        state.withLock { state in
            state.items = state.items[state.head...].filter { !predicate($0) }
            state.head = 0
        }
    }

    /// Ends the sequence: readers get the remaining messages, then nil.
    func finish() {
        let readers = state.withLock { state -> [CheckedContinuation<KafkaMessage?, Never>] in
            state.finished = true
            defer { state.readers.removeAll() }
            return state.readers.map(\.continuation)
        }
        for reader in readers { reader.resume(returning: nil) }
        space.signal()
    }
}
