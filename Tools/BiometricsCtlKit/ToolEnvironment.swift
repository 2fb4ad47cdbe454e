import Foundation
import Kafka
import Logging
import Runtime

/// What the operations commands (replay, tail, deadletter) take from the environment, as every service does.
enum ToolEnvironment {
    /// The Kafka configuration and a logger for `tool`, from `KAFKA_BOOTSTRAP_SERVERS` and `KAFKA_*`.
    static func kafka(tool: String) throws -> (KafkaConfiguration, Logger) {
        let configuration = try CommonConfiguration(serviceName: tool, defaultHTTPPort: 0)
        let logger = ServiceRunner.bootstrap(configuration)
        var kafka = configuration.kafka
        kafka.statisticsInterval = nil
        return (kafka, logger)
    }

    /// Writes a line to standard error (progress, summaries, skipped records).
    static func printError(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
