import ArgumentParser
import Foundation
import Kafka
import Messages
import Runtime

/// `biometricsctl topics`: provision and inspect the project's topics on a real cluster.
struct TopicsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topics",
        abstract: "Create or list the project's Kafka topics (KAFKA_BOOTSTRAP_SERVERS, KAFKA_* properties).",
        subcommands: [Create.self, List.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create every project topic (idempotent: existing topics are reported, not changed).")

        @Option(help: "Replication factor; -1 uses the broker default.")
        var replicationFactor: Int = -1

        @Option(help: "Seconds to wait for the cluster.")
        var timeout: Int = 30

        func run() async throws {
            let (admin, _) = try makeAdmin(service: "biometricsctl-topics")
            let topics = Topics.all.map { spec in
                NewTopic(name: spec.name, partitions: spec.partitions, replicationFactor: replicationFactor,
                         config: spec.configs)
            }
            let outcome: [String: TopicCreation]
            do {
                outcome = try await admin.createTopics(topics, timeout: .seconds(timeout))
            } catch let error as KafkaError where error.code == "timeout" {
                throw ValidationError("""
                    \(error). No answer to CreateTopics: either the cluster is unreachable or it cannot create topics \
                    (the embedded dev broker cannot; it pre-creates every project topic itself).
                    """)
            }
            var failed = false
            for spec in Topics.all {
                let result: String
                switch outcome[spec.name] {
                case .created: result = "created"
                case .alreadyExists: result = "exists"
                case .failed(let reason): result = "FAILED: \(reason)"; failed = true
                case nil: result = "FAILED: no answer"; failed = true
                }
                print("\(spec.name.padding(toLength: 26, withPad: " ", startingAt: 0)) partitions=\(spec.partitions) "
                      + "cleanup.policy=\(spec.cleanupPolicy.rawValue) \(result)")
            }
            if failed { throw ExitCode.failure }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List topics with partitions and message counts.")

        func run() async throws {
            let (admin, _) = try makeAdmin(service: "biometricsctl-topics")
            for topic in try await admin.listTopics() {
                var messages: Int64 = 0
                for partition in topic.partitions {
                    let marks = try await admin.watermarks(TopicPartition(topic: topic.name, partition: partition))
                    messages += marks.high - marks.low
                }
                print("\(topic.name.padding(toLength: 26, withPad: " ", startingAt: 0)) partitions=\(topic.partitions.count) messages=\(messages)")
            }
        }
    }
}

/// An admin client configured from the environment like every service.
func makeAdmin(service: String) throws -> (KafkaAdmin, CommonConfiguration) {
    let configuration = try CommonConfiguration(serviceName: service, defaultHTTPPort: 0)
    let logger = ServiceRunner.bootstrap(configuration)
    return (try KafkaAdmin(configuration: configuration.kafka, logger: logger), configuration)
}
