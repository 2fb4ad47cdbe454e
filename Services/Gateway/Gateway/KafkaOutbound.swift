import Kafka
import Logging
import ServiceLifecycle

/// The ordered, bounded hand-off from sessions (on NIO event loops) to the Kafka producer.
///
/// One task feeds the producer in submission order, so a socket's events keep their order per key; when Kafka is
/// slower than clients for long enough to fill `capacity`, `submit` refuses and the client gets an error instead of the
/// gateway growing without bound.
final class KafkaOutbound: Service, Sendable {
    let producer: KafkaProducer
    private let stream: AsyncStream<OutgoingMessage>
    private let continuation: AsyncStream<OutgoingMessage>.Continuation
    private let logger: Logger

    init(producer: KafkaProducer, capacity: Int = 100_000, logger: Logger) {
        self.producer = producer
        self.logger = logger
        (stream, continuation) = AsyncStream.makeStream(of: OutgoingMessage.self, bufferingPolicy: .bufferingOldest(capacity))
    }

    /// Queues a message; false when the queue is full (or closed).
    func submit(_ message: OutgoingMessage) -> Bool {
        if case .enqueued = continuation.yield(message) { return true }
        return false
    }

    /// Feeds the producer until graceful shutdown, then drains what is queued.
    func run() async throws {
        await withGracefulShutdownHandler {
            for await message in stream {
                do {
                    try await producer.enqueue(message)
                } catch {
                    logger.error("kafka produce refused", metadata: ["kafka.topic": "\(message.topic)", "error.message": "\(error)"])
                }
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
