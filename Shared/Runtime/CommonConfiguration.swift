import Foundation
import Kafka
import Logging

/// How log lines are written to standard error.
public enum LogFormat: String, Sendable, CaseIterable {
    /// Human-readable lines (swift-log's `StreamLogHandler`).
    case text
    /// One JSON object per line (``JSONLogHandler``).
    case json
}

/// Settings every service shares, read from the environment in one place.
///
/// | variable | meaning | default |
/// |---|---|---|
/// | `INSTANCE_ID` | this process's identity in logs, metrics and envelopes | `<hostname>-<pid>` |
/// | `LOG_LEVEL` | trace, debug, info, notice, warning, error, critical | `info` |
/// | `LOG_FORMAT` | `text` or `json` | `text` |
/// | `HTTP_HOST` | address of the ops endpoint (`/health`, `/ready`, `/metrics`) | `127.0.0.1` |
/// | `HTTP_PORT` | port of the ops endpoint; 0 picks a free port | the service's own default |
/// | `KAFKA_BOOTSTRAP_SERVERS` | Kafka brokers | `127.0.0.1:9092` |
/// | `STATS_INTERVAL_SECONDS` | period of `service.metrics` snapshots | `15` |
/// | `KAFKA_*` | any librdkafka property, see ``KafkaProperties`` | — |
public struct CommonConfiguration: Sendable {
    /// Default Kafka bootstrap servers.
    public static let defaultKafkaBootstrapServers = "127.0.0.1:9092"
    /// Default ops endpoint address.
    public static let defaultHTTPHost = "127.0.0.1"
    /// Default period of stats snapshots.
    public static let defaultStatsInterval: Duration = .seconds(15)
    /// Every variable ``init(serviceName:defaultHTTPPort:environment:)`` reads, besides `KAFKA_*` librdkafka
    /// properties. Each service's `environmentVariables` starts with these; the deploy test checks env files and the
    /// README against them.
    public static let environmentVariables = [
        "INSTANCE_ID", "LOG_LEVEL", "LOG_FORMAT", "HTTP_HOST", "HTTP_PORT", "KAFKA_BOOTSTRAP_SERVERS",
        "STATS_INTERVAL_SECONDS",
    ]

    /// The service's name, e.g. `gateway`; fixed by the executable, not configurable.
    public var serviceName: String
    /// This process's identity (`INSTANCE_ID`).
    public var instanceId: String
    /// Minimum log level (`LOG_LEVEL`).
    public var logLevel: Logger.Level
    /// Log line format (`LOG_FORMAT`).
    public var logFormat: LogFormat
    /// Ops endpoint address (`HTTP_HOST`).
    public var httpHost: String
    /// Ops endpoint port (`HTTP_PORT`); 0 picks a free port.
    public var httpPort: Int
    /// Kafka brokers (`KAFKA_BOOTSTRAP_SERVERS`).
    public var kafkaBootstrapServers: String
    /// librdkafka properties from `KAFKA_*`, always with `bootstrap.servers` and `client.id` set.
    public var kafkaProperties: [String: String]
    /// Period of stats snapshots (`STATS_INTERVAL_SECONDS`).
    public var statsInterval: Duration

    /// Creates a configuration from explicit values (tests, embedding).
    public init(
        serviceName: String,
        instanceId: String = CommonConfiguration.defaultInstanceId(),
        logLevel: Logger.Level = .info,
        logFormat: LogFormat = .text,
        httpHost: String = CommonConfiguration.defaultHTTPHost,
        httpPort: Int,
        kafkaBootstrapServers: String = CommonConfiguration.defaultKafkaBootstrapServers,
        kafkaProperties: [String: String] = [:],
        statsInterval: Duration = CommonConfiguration.defaultStatsInterval
    ) {
        self.serviceName = serviceName
        self.instanceId = instanceId
        self.logLevel = logLevel
        self.logFormat = logFormat
        self.httpHost = httpHost
        self.httpPort = httpPort
        self.kafkaBootstrapServers = kafkaBootstrapServers
        var properties = kafkaProperties
        properties["bootstrap.servers"] = kafkaBootstrapServers
        if properties["client.id"] == nil {
            properties["client.id"] = "\(serviceName)-\(instanceId)"
        }
        self.kafkaProperties = properties
        self.statsInterval = statsInterval
    }

    /// Reads the shared settings from `environment`; `defaultHTTPPort` is the service's own ops port.
    /// A `KAFKA_*` variable that librdkafka refuses (unknown property, bad value) is a ``ConfigurationError`` naming it.
    public init(serviceName: String, defaultHTTPPort: Int, environment: EnvironmentReader = EnvironmentReader()) throws {
        for variable in environment.variables.keys.sorted() {
            guard let property = KafkaProperties.propertyName(forVariable: variable),
                  let value = environment.raw(variable),
                  let problem = KafkaConfiguration.problem(withProperty: property, value: value)
            else { continue }
            let shown = KafkaConfiguration.isSecret(property) ? KafkaConfiguration.redactedValue : value
            throw ConfigurationError.invalid(variable, value: shown, problem: "is refused by librdkafka (\(property)): \(problem)")
        }
        self.init(
            serviceName: serviceName,
            instanceId: environment.string("INSTANCE_ID", default: Self.defaultInstanceId()),
            logLevel: try environment.enum("LOG_LEVEL", default: Logger.Level.info),
            logFormat: try environment.enum("LOG_FORMAT", default: LogFormat.text),
            httpHost: environment.string("HTTP_HOST", default: Self.defaultHTTPHost),
            httpPort: try environment.port("HTTP_PORT", default: defaultHTTPPort, allowZero: true),
            kafkaBootstrapServers: environment.string("KAFKA_BOOTSTRAP_SERVERS", default: Self.defaultKafkaBootstrapServers),
            kafkaProperties: environment.kafkaProperties(),
            statsInterval: try environment.durationSeconds(
                "STATS_INTERVAL_SECONDS", default: Self.defaultStatsInterval, range: .milliseconds(100)...(.seconds(86_400)))
        )
    }

    /// `<hostname>-<pid>`, the default instance id.
    public static func defaultInstanceId() -> String {
        // gethostname(2) rather than ProcessInfo.hostName, which may resolve the name through DNS.
        var buffer = [CChar](repeating: 0, count: 256)
        var host = "localhost"
        if gethostname(&buffer, buffer.count - 1) == 0 {
            let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if let short = name.split(separator: ".").first, !short.isEmpty { host = String(short) }
        }
        return "\(host)-\(ProcessInfo.processInfo.processIdentifier)"
    }

    /// `kafkaProperties` redacted for logging.
    public var redactedKafkaProperties: [String: String] { KafkaConfiguration.redacted(kafkaProperties) }

    /// The Kafka client configuration every client of this process uses.
    public var kafka: KafkaConfiguration {
        KafkaConfiguration(bootstrapServers: kafkaBootstrapServers, clientId: kafkaProperties["client.id"] ?? serviceName,
                           properties: kafkaProperties, statisticsInterval: statsInterval)
    }

    /// Logger metadata that identifies this process (`service.name`, `service.instance.id`).
    public var loggerMetadata: Logger.Metadata {
        ["service.name": .string(serviceName), "service.instance.id": .string(instanceId)]
    }
}
