import Foundation
import Logging
import Messages
import Runtime
import ServiceLifecycle

/// Every health interval, `server:health {connections, users, gateways, timestamp}` to the `admin` room — across
/// all gateways, sent by one presence instance per interval (a short Redis lock).
public struct ServerHealthPublisher: Service, CustomStringConvertible {
    private let store: PresenceStore
    private let producer: EnvelopeProducer
    private let interval: Duration
    private let instanceId: String
    private let logger: Logger

    /// Creates the publisher.
    public init(store: PresenceStore, producer: EnvelopeProducer, interval: Duration, instanceId: String,
                logger: Logger) {
        self.store = store
        self.producer = producer
        self.interval = interval
        self.instanceId = instanceId
        self.logger = logger
    }

    /// A short description for service group logs.
    public var description: String { "ServerHealthPublisher(\(interval))" }

    /// Publishes until graceful shutdown.
    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            guard !Task.isShuttingDownGracefully && !Task.isCancelled else { break }
            do {
                try await publishOnce()
            } catch {
                logger.warning("server:health not published", metadata: ["error.message": "\(error)"])
            }
        }
    }

    /// Sends one report unless another instance sent this interval's; returns whether this one sent it.
    @discardableResult
    public func publishOnce(now: Date = Date()) async throws -> Bool {
        // The lock lives a little less than an interval, so the next tick (of any instance) may send again.
        guard try await store.acquire("health", owner: instanceId, ttl: interval * 0.9) else { return false }
        let counts = try await store.counts(now: now)
        try await producer.enqueue(PresencePlanner.health(counts, at: now), key: Rooms.admin)
        return true
    }
}
