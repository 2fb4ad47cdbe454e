import Foundation
import Logging
import Messages
import Metrics
import ServiceLifecycle

/// Publishes a ``ServiceMetrics`` snapshot of the process's metrics every interval, and a last one on
/// graceful shutdown.
///
/// Services send them to `service.metrics` with ``EnvelopeProducer`` (see ``init(configuration:producer:logger:)``). Publish
/// failures are logged and counted (`runtime.stats.publish.failures`), never fatal. Ticks keep a
/// fixed cadence; ticks missed while a slow publish runs are skipped, not queued.
public struct StatsPublisher: Service, CustomStringConvertible {
    /// Sends one snapshot; may throw, which is logged and counted.
    public typealias Publish = @Sendable (ServiceMetrics) async throws -> Void

    /// Period between snapshots.
    public let interval: Duration
    /// The publishing service's name.
    public let serviceName: String
    /// The publishing instance's id.
    public let instanceId: String

    private let text: @Sendable () -> String
    private let publish: Publish
    private let logger: Logger

    /// Creates a publisher; `text` defaults to the process registry's Prometheus text.
    public init(
        interval: Duration,
        serviceName: String,
        instanceId: String,
        text: @escaping @Sendable () -> String = { MetricsBootstrap.prometheusText() },
        publish: @escaping Publish,
        logger: Logger
    ) {
        precondition(interval > .zero, "StatsPublisher interval must be positive")
        self.interval = interval
        self.serviceName = serviceName
        self.instanceId = instanceId
        self.text = text
        self.publish = publish
        self.logger = logger
    }

    /// Creates a publisher using the service name, instance id and `STATS_INTERVAL_SECONDS` of `configuration`.
    public init(
        configuration: CommonConfiguration,
        text: @escaping @Sendable () -> String = { MetricsBootstrap.prometheusText() },
        publish: @escaping Publish,
        logger: Logger
    ) {
        self.init(
            interval: configuration.statsInterval,
            serviceName: configuration.serviceName,
            instanceId: configuration.instanceId,
            text: text,
            publish: publish,
            logger: logger
        )
    }

    /// Creates a publisher that hands each snapshot to the producer for `service.metrics`, keyed by instance.
    /// Snapshots are best effort: it does not wait for the broker, so a broker outage never stalls shutdown.
    public init(configuration: CommonConfiguration, producer: EnvelopeProducer, logger: Logger) {
        self.init(configuration: configuration, publish: { snapshot in
            try await producer.enqueue(snapshot, key: snapshot.instance)
        }, logger: logger)
    }

    /// A short description for service group logs.
    public var description: String { "StatsPublisher(\(interval))" }

    /// Publishes every interval until graceful shutdown (then publishes once more) or cancellation.
    public func run() async throws {
        let clock = ContinuousClock()
        var deadline = clock.now.advanced(by: interval)
        while true {
            do {
                try await cancelWhenGracefulShutdown { [deadline] in
                    try await Task.sleep(until: deadline, clock: clock)
                }
            } catch {
                break
            }
            if Task.isCancelled || Task.isShuttingDownGracefully { break }
            await publishOnce()
            let now = clock.now
            deadline = deadline.advanced(by: interval)
            while deadline <= now { deadline = deadline.advanced(by: interval) }
        }
        if Task.isShuttingDownGracefully && !Task.isCancelled {
            logger.debug("publishing final stats snapshot")
            await publishOnce()
        }
    }

    /// Takes and publishes one snapshot now; returns whether publishing succeeded.
    @discardableResult
    public func publishOnce() async -> Bool {
        let snapshot = ServiceMetrics(
            service: serviceName, instance: instanceId, intervalSeconds: Self.wholeSeconds(interval), text: text())
        do {
            try await publish(snapshot)
            Counter(label: "runtime.stats.published").increment()
            return true
        } catch {
            Counter(label: "runtime.stats.publish.failures").increment()
            logger.warning("stats snapshot not published", metadata: ["error.message": .string("\(error)")])
            return false
        }
    }

    /// The interval in whole seconds as the snapshot schema wants it (at least 1).
    private static func wholeSeconds(_ duration: Duration) -> Int {
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        return max(1, Int(seconds.rounded(.up)))
    }
}
