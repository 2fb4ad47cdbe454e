import Foundation
import Logging
import Metrics
import ServiceLifecycle

/// Purges read notifications older than the read retention and forgets handled command ids older than the
/// idempotency retention: once at start, then every interval, until graceful shutdown.
public struct RetentionJob: Service, CustomStringConvertible {
    private let store: any NotificationStore
    private let interval: Duration
    private let readRetention: Duration
    private let idempotencyRetention: Duration
    private let logger: Logger

    /// Creates the job.
    public init(store: any NotificationStore, interval: Duration, readRetention: Duration,
                idempotencyRetention: Duration, logger: Logger) {
        self.store = store
        self.interval = interval
        self.readRetention = readRetention
        self.idempotencyRetention = idempotencyRetention
        self.logger = logger
    }

    /// A short description for service group logs.
    public var description: String { "RetentionJob(\(interval))" }

    /// Runs a pass now and every interval until graceful shutdown or cancellation.
    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            await runOnce()
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            } catch {
                break
            }
        }
    }

    /// One pass; failures are logged and counted, never fatal (the next pass tries again).
    @discardableResult
    public func runOnce(now: Date = Date()) async -> PurgeOutcome? {
        do {
            let outcome = try await store.purge(
                readBefore: now.addingTimeInterval(-Self.seconds(readRetention)),
                commandsBefore: now.addingTimeInterval(-Self.seconds(idempotencyRetention)))
            Counter(label: "notification_purged_total", dimensions: [("what", "notifications")])
                .increment(by: Int64(outcome.notifications))
            Counter(label: "notification_purged_total", dimensions: [("what", "commands")])
                .increment(by: Int64(outcome.commands))
            if outcome.notifications + outcome.commands > 0 {
                logger.info("retention pass", metadata: [
                    "notification.purged": "\(outcome.notifications)", "notification.commands_forgotten": "\(outcome.commands)"])
            }
            return outcome
        } catch {
            Counter(label: "notification_purge_failures_total").increment()
            logger.warning("retention pass failed", metadata: ["error.message": "\(error)"])
            return nil
        }
    }

    private static func seconds(_ duration: Duration) -> TimeInterval {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
