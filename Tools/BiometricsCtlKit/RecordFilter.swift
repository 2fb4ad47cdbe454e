import ArgumentParser
import Foundation
import Kafka
import Logging
import Runtime

/// `--key` and `--type` filters shared by `replay`, `tail` and `deadletter`: a record passes when its key is one of the
/// keys (if any are given) and its value is a JSON envelope whose `type` is one of the types (if any are given).
struct RecordFilter: Sendable {
    var keys: Set<String> = []
    var types: Set<String> = []

    /// Whether `message` passes.
    func matches(_ message: KafkaMessage) -> Bool {
        if !keys.isEmpty {
            guard let key = message.keyString, keys.contains(key) else { return false }
        }
        if !types.isEmpty {
            guard let type = Self.envelopeType(of: message.value), types.contains(type) else { return false }
        }
        return true
    }

    /// The `type` of a JSON envelope, nil when the value is not one.
    static func envelopeType(of value: [UInt8]) -> String? {
        guard value.first == UInt8(ascii: "{"),
              let object = try? JSONSerialization.jsonObject(with: Data(value)) as? [String: Any]
        else { return nil }
        return object["type"] as? String
    }
}

/// The filter options as ArgumentParser options.
struct RecordFilterOptions: ParsableArguments {
    @Option(name: .customLong("key"), help: "Only records with this key (repeatable).")
    var keys: [String] = []

    @Option(name: .customLong("type"), help: "Only envelopes of this type, e.g. biometric:verify (repeatable).")
    var types: [String] = []

    var filter: RecordFilter { RecordFilter(keys: Set(keys), types: Set(types)) }
}

/// RFC 3339 times for `--from`/`--to`/`--since`: `2026-11-28T10:00:00Z`, with or without fractional seconds or an offset.
enum RFC3339 {
    static func parse(_ text: String, option: String) throws -> Date {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime]
        if let date = formatter.date(from: text) { return date }
        throw ValidationError("\(option) '\(text)' is not an RFC 3339 time like 2026-11-28T10:00:00Z")
    }
}

/// A Kafka configuration from the environment (`KAFKA_BOOTSTRAP_SERVERS`, `KAFKA_*`), as every service reads it.
func kafkaFromEnvironment(tool: String) throws -> (KafkaConfiguration, Logger) {
    let configuration = try CommonConfiguration(serviceName: tool, defaultHTTPPort: 0)
    let logger = ServiceRunner.bootstrap(configuration)
    var kafka = configuration.kafka
    kafka.statisticsInterval = nil
    return (kafka, logger)
}

/// Writes a line to standard error (progress, summaries).
func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
