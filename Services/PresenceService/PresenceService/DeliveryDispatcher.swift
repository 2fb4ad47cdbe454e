import Foundation
import Logging
import Messages
import Metrics
import Redis
import Runtime
import ServiceLifecycle

/// Carries out one record at least once and idempotently: skips it when its id is marked done, decides (the
/// decision is memoized in Redis by the scripts), sends the deliveries, then marks the id done. While Redis is
/// unreachable the whole step is retried (the memo makes the retry decide nothing new) for up to
/// `REDIS_RETRY_SECONDS`; after that the error reaches the topic processor, which dead-letters the record.
public struct DeliveryDispatcher: Sendable {
    private let store: PresenceStore
    private let producer: EnvelopeProducer
    private let redisRetry: Duration
    private let logger: Logger

    /// Creates a dispatcher.
    public init(store: PresenceStore, producer: EnvelopeProducer, redisRetry: Duration, logger: Logger) {
        self.store = store
        self.producer = producer
        self.redisRetry = redisRetry
        self.logger = logger
    }

    /// Handles record `id` once: `decide` returns what to deliver.
    public func process(_ id: UUID, decide: @Sendable () async throws -> [Outgoing]) async throws {
        try await retryingRedis {
            if try await store.isDone(id) {
                Counter(label: "presence_records_redelivered_total").increment()
                return
            }
            let outgoing: [Outgoing]
            do {
                outgoing = try await decide()
            } catch let error as PresenceServiceError where error.code == .alreadyHandled {
                return
            }
            try await send(outgoing)
            try await store.markDone(id)
        }
    }

    /// Sends deliveries, waiting for the broker: in order within a key, keys concurrently.
    public func send(_ outgoing: [Outgoing]) async throws {
        var groups: [String: [Outgoing]] = [:]
        var order: [String] = []
        for item in outgoing {
            if groups[item.key] == nil { order.append(item.key) }
            groups[item.key, default: []].append(item)
        }
        if order.count <= 1 {
            for item in outgoing { try await producer.send(item.delivery, key: item.key) }
            return
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for key in order {
                let items = groups[key] ?? []
                group.addTask {
                    for item in items { try await producer.send(item.delivery, key: item.key) }
                }
            }
            try await group.waitForAll()
        }
    }

    /// Runs `body`, again after a pause while it fails with a retriable Redis error, for up to the retry window.
    /// A graceful shutdown ends the waiting with `CancellationError` (the record stays uncommitted).
    public func retryingRedis(_ body: () async throws -> Void) async throws {
        let deadline = ContinuousClock.now + redisRetry
        var pause: Duration = .milliseconds(100)
        while true {
            do {
                return try await body()
            } catch let error as RedisError where error.isRetriable {
                guard ContinuousClock.now + pause < deadline else { throw error }
                Counter(label: "presence_redis_retries_total").increment()
                logger.warning("Redis unavailable; retrying", metadata: [
                    "error.message": "\(error)", "retry.pause_ms": "\(pause.components.seconds * 1000 + pause.components.attoseconds / 1_000_000_000_000_000)",
                ])
                if Task.isShuttingDownGracefully { throw CancellationError() }
                try await Task.sleep(for: pause)
                pause = min(pause * 2, .seconds(2))
            }
        }
    }
}
