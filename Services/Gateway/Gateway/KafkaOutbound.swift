import Kafka
import Logging
import ServiceLifecycle
import Synchronization

/// The ordered, bounded hand-off from sessions (on NIO event loops) to the Kafka producer.
///
/// A message is produced on the session's own event loop when the producer has a free slot and nothing is queued
/// (the usual case: no hop to another thread per client event). Otherwise it is queued, and one task feeds the
/// producer in submission order; while anything is queued every message queues behind it, so a socket's events keep
/// their order. When Kafka is slower than clients for long enough to fill `capacity`, `submit` refuses and the client
/// gets an error instead of the gateway growing without bound.
final class KafkaOutbound: Service, Sendable {
    let producer: KafkaProducer
    private let stream: AsyncStream<OutgoingMessage>
    private let continuation: AsyncStream<OutgoingMessage>.Continuation
    /// Messages queued and not yet produced.
    private let queued = Atomic<Int>(0)
    private let logger: Logger

    init(producer: KafkaProducer, capacity: Int = 100_000, logger: Logger) {
        self.producer = producer
        self.logger = logger
        (stream, continuation) = AsyncStream.makeStream(of: OutgoingMessage.self, bufferingPolicy: .bufferingOldest(capacity))
    }

    /// Produces or queues a message; false when the queue is full (or closed).
    func submit(_ message: OutgoingMessage) -> Bool {
        if queued.load(ordering: .acquiring) == 0 {
            do {
                if try producer.tryEnqueue(message) { return true }
            } catch {
                refused(message, error)
                return true  // as a queued message refused by librdkafka: logged, not the client's fault
            }
        }
        queued.add(1, ordering: .acquiringAndReleasing)
        if case .enqueued = continuation.yield(message) { return true }
        queued.subtract(1, ordering: .acquiringAndReleasing)
        return false
    }

    private func refused(_ message: OutgoingMessage, _ error: any Error) {
        logger.error("kafka produce refused", metadata: ["kafka.topic": "\(message.topic)", "error.message": "\(error)"])
    }

    /// Feeds the producer until graceful shutdown, then drains what is queued.
    func run() async throws {
        await withGracefulShutdownHandler {
            for await message in stream {
                do {
                    try await producer.enqueue(message)
                } catch {
                    refused(message, error)
                }
                queued.subtract(1, ordering: .acquiringAndReleasing)
            }
        } onGracefulShutdown: { [continuation] in
            continuation.finish()
        }
    }

    /// Stops accepting messages; `run()` ends once the queue is drained.
    func finish() {
        continuation.finish()
    }
}
