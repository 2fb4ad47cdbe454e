import CRdKafka

/// Settings shared by every Kafka client: where the brokers are and any librdkafka property.
public struct KafkaConfiguration: Sendable {
    /// `bootstrap.servers`, e.g. `127.0.0.1:9092`.
    public var bootstrapServers: String
    /// `client.id`, shown in broker logs and in metric labels.
    public var clientId: String
    /// Any librdkafka property (`security.protocol`, `ssl.ca.location`, `sasl.*` …); these win over the defaults.
    public var properties: [String: String]
    /// How often librdkafka statistics are mapped into swift-metrics; nil turns statistics off.
    public var statisticsInterval: Duration?

    /// Creates a configuration.
    public init(bootstrapServers: String, clientId: String = "biometrics", properties: [String: String] = [:],
                statisticsInterval: Duration? = .seconds(15)) {
        self.bootstrapServers = bootstrapServers
        self.clientId = clientId
        self.properties = properties
        self.statisticsInterval = statisticsInterval
    }

    /// The librdkafka properties for one client: library defaults, then the role's defaults, then the user's.
    func librdkafkaProperties(roleDefaults: [String: String]) -> [String: String] {
        var result = roleDefaults
        result["bootstrap.servers"] = bootstrapServers
        result["client.id"] = clientId
        if let statisticsInterval {
            let ms = statisticsInterval.components.seconds * 1000
                + statisticsInterval.components.attoseconds / 1_000_000_000_000_000
            result["statistics.interval.ms"] = String(max(ms, 1))
        }
        for (name, value) in properties { result[name] = value }
        return result
    }

    /// Why librdkafka refuses `name=value` (unknown property, bad value), or nil if it accepts it.
    public static func problem(withProperty name: String, value: String) -> String? {
        guard let conf = rd_kafka_conf_new() else { return "librdkafka configuration unavailable" }
        defer { rd_kafka_conf_destroy(conf) }
        var errstr = [CChar](repeating: 0, count: 512)
        guard rd_kafka_conf_set(conf, name, value, &errstr, errstr.count) == RD_KAFKA_CONF_OK else {
            return String(errorBuffer: errstr)
        }
        return nil
    }

    /// Whether a librdkafka property holds a secret that must never be logged.
    ///
    /// Secret: names containing `password`, `secret`, `token` or `credential`, `sasl.oauthbearer.config` and
    /// `sasl.jaas.config`, and any name with a `key` component other than a `….location` path — so `ssl.key.pem`
    /// and `ssl.key.password` are secret while `ssl.key.location` and `ssl.keystore.location` are not.
    public static func isSecret(_ property: String) -> Bool {
        let name = property.lowercased()
        if ["password", "secret", "token", "credential"].contains(where: { name.contains($0) }) { return true }
        if name == "sasl.oauthbearer.config" || name == "sasl.jaas.config" { return true }
        let components = name.split(separator: ".")
        return components.contains("key") && components.last != "location"
    }

    /// What logs show instead of a secret value.
    public static let redactedValue = "***"

    /// Properties with every secret value replaced by ``redactedValue``, safe to log.
    public static func redacted(_ properties: [String: String]) -> [String: String] {
        properties.reduce(into: [:]) { result, entry in
            result[entry.key] = isSecret(entry.key) ? redactedValue : entry.value
        }
    }
}
