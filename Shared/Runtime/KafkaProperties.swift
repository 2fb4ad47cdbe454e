import Foundation
import Kafka

/// Maps `KAFKA_*` environment variables to librdkafka configuration properties and redacts secrets for logs.
///
/// `KAFKA_SECURITY_PROTOCOL=SASL_SSL` becomes `security.protocol=SASL_SSL`: the `KAFKA_` prefix is
/// stripped, the rest lowercased and `_` replaced by `.`. Variables in ``projectVariables`` or starting
/// with one of ``ignoredPrefixes`` are not librdkafka properties and are skipped.
public enum KafkaProperties {
    /// The prefix shared by every Kafka variable.
    public static let prefix = "KAFKA_"

    /// `KAFKA_*` variables that are project settings or platform noise, never librdkafka properties.
    ///
    /// - `KAFKA_PORT`: injected by Kubernetes service links when a Service is named `kafka`.
    public static let projectVariables: Set<String> = ["KAFKA_PORT"]

    /// Prefixes of `KAFKA_*` variables to skip: Kubernetes service links (`KAFKA_SERVICE_HOST`,
    /// `KAFKA_PORT_9092_TCP_ADDR`, …).
    public static let ignoredPrefixes: [String] = ["KAFKA_SERVICE_", "KAFKA_PORT_"]

    /// The librdkafka property name for a `KAFKA_*` variable, or `nil` if it is not one.
    public static func propertyName(forVariable variable: String, excluding extra: Set<String> = []) -> String? {
        guard variable.hasPrefix(prefix), variable.count > prefix.count else { return nil }
        guard !projectVariables.contains(variable), !extra.contains(variable) else { return nil }
        guard !ignoredPrefixes.contains(where: { variable.hasPrefix($0) }) else { return nil }
        return variable.dropFirst(prefix.count).lowercased().replacingOccurrences(of: "_", with: ".")
    }

    /// Every librdkafka property set through `KAFKA_*` variables, skipping `excluding` as well as
    /// ``projectVariables``; empty values are skipped too.
    public static func collect(from environment: EnvironmentReader, excluding extra: Set<String> = []) -> [String: String] {
        var properties: [String: String] = [:]
        for name in environment.variables.keys {
            guard let property = propertyName(forVariable: name, excluding: extra), let value = environment.raw(name) else {
                continue
            }
            properties[property] = value
        }
        return properties
    }

    /// A one-line, sorted, redacted `name=value` rendering for logs.
    public static func describe(_ properties: [String: String]) -> String {
        KafkaConfiguration.redacted(properties).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    }
}

extension EnvironmentReader {
    /// Every librdkafka property set through `KAFKA_*` variables (see ``KafkaProperties``).
    public func kafkaProperties(excluding extra: Set<String> = []) -> [String: String] {
        KafkaProperties.collect(from: self, excluding: extra)
    }
}
