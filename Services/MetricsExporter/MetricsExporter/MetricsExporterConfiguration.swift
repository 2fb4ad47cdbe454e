import Runtime

/// Everything the metrics exporter reads from the environment, with documented defaults (README, "Metrics").
public struct MetricsExporterConfiguration: Sendable {
    /// The service name in logs, metrics and envelopes.
    public static let serviceName = "metrics-exporter"
    /// The scrape endpoint's default port (DESIGN §6).
    public static let defaultPort = 9464
    /// Groups watched for consumer lag when `METRICS_LAG_GROUPS` is unset: the services' shared command groups and
    /// the groups in which the worker and the presence service follow `gateway.connections` (a lag there delays
    /// grant withdrawal and presence).
    public static let defaultLagGroups = [
        "verification-worker", "verification-worker-connections", "presence-service", "presence-service-connections",
        "notification-service",
    ]

    /// Every variable this service reads (besides `KAFKA_*` librdkafka properties); the deploy test checks the env
    /// file and the README against it.
    public static let environmentVariables = CommonConfiguration.environmentVariables + [
        "METRICS_EXPORTER_PORT", "METRICS_STALE_SECONDS", "METRICS_LAG_INTERVAL_SECONDS", "METRICS_LAG_GROUPS",
    ]

    /// Shared service settings; the port is `METRICS_EXPORTER_PORT` (9464), else `HTTP_PORT`.
    public var common: CommonConfiguration
    /// `METRICS_STALE_SECONDS` (60): an instance silent this long loses its series.
    public var staleAfter: Duration
    /// `METRICS_LAG_INTERVAL_SECONDS` (15): how often consumer lag is measured.
    public var lagInterval: Duration
    /// `METRICS_LAG_GROUPS` (comma list, default ``defaultLagGroups``): consumer groups whose lag is reported, besides
    /// any the broker lists.
    public var lagGroups: [String]

    /// Reads the configuration; a bad variable is a ``ConfigurationError`` naming it.
    public init(environment: EnvironmentReader = EnvironmentReader()) throws {
        common = try CommonConfiguration(
            serviceName: Self.serviceName, defaultHTTPPort: Self.defaultPort, environment: environment)
        common.httpPort = try environment.port("METRICS_EXPORTER_PORT", default: common.httpPort, allowZero: true)
        staleAfter = try environment.durationSeconds(
            "METRICS_STALE_SECONDS", default: .seconds(60), range: .seconds(1)...(.seconds(86_400)))
        lagInterval = try environment.durationSeconds(
            "METRICS_LAG_INTERVAL_SECONDS", default: .seconds(15), range: .milliseconds(100)...(.seconds(3600)))
        lagGroups = environment.list("METRICS_LAG_GROUPS", default: Self.defaultLagGroups)
    }

    /// Creates a configuration from explicit values (tests, embedding).
    public init(common: CommonConfiguration, staleAfter: Duration = .seconds(60), lagInterval: Duration = .seconds(15),
                lagGroups: [String] = MetricsExporterConfiguration.defaultLagGroups) {
        self.common = common
        self.staleAfter = staleAfter
        self.lagInterval = lagInterval
        self.lagGroups = lagGroups
    }
}
