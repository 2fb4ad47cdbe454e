import Foundation
import Kafka
import Logging
import Messages
import Runtime
import ServiceLifecycle

/// The metrics exporter's object graph: the scrape endpoint (`/metrics`, `/health`, `/ready`), the `service.metrics`
/// reader and the consumer lag collector.
public struct MetricsExporterApplication: Sendable {
    /// The endpoint serving the merged exposition.
    public let opsServer: OpsServer
    /// The instances' latest snapshots.
    public let aggregator: MetricsAggregator
    /// Consumer lag measurements.
    public let lag: ConsumerLagCollector
    /// Every long-running part, dependencies first.
    public let services: [any Service]
    private let configuration: MetricsExporterConfiguration
    private let logger: Logger

    /// Builds the exporter; fails on a bad Kafka configuration.
    public init(configuration: MetricsExporterConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        let common = configuration.common
        let admin = try KafkaAdmin(configuration: common.kafka, logger: logger)
        let aggregator = MetricsAggregator(staleAfter: configuration.staleAfter)
        self.aggregator = aggregator
        let lag = ConsumerLagCollector(admin: admin, groups: configuration.lagGroups, interval: configuration.lagInterval,
                                       logger: logger)
        self.lag = lag
        let ingestor = SnapshotIngestor(kafka: common.kafka, admin: admin, aggregator: aggregator, logger: logger)
        let service = common.serviceName
        let instance = common.instanceId
        opsServer = OpsServer(
            configuration: OpsServer.Configuration(common),
            readinessChecks: [
                .kafka(admin),
                ReadinessCheck(name: "service.metrics") { ingestor.isAssigned },
                ReadinessCheck(name: "lag") { lag.hasMeasured },
            ],
            metricsText: {
                Self.exposition(aggregator: aggregator, lag: lag, service: service, instance: instance,
                                ownText: MetricsBootstrap.prometheusText())
            },
            logger: logger)
        services = [opsServer, ingestor, lag]
    }

    /// The whole scrape answer: every live instance's series, the exporter's own registry (labelled like an
    /// instance), freshness, consumer lag and the exporter's counters.
    public static func exposition(aggregator: MetricsAggregator, lag: ConsumerLagCollector, service: String,
                                  instance: String, ownText: String, now: Date = Date()) -> String
    {
        let local = MetricsAggregator.localSnapshot(service: service, instance: instance, text: ownText, at: now)
        if local == nil { aggregator.countRejected() }  // our own registry did not parse: counted, never hidden
        return PrometheusText.render(MetricsAggregator.merged(aggregator.families(now: now, local: local), lag.families()))
    }

    /// Runs until SIGTERM/SIGINT.
    public func run() async throws {
        try await ServiceRunner.run(services: services, configuration: configuration.common, logger: logger)
    }
}
