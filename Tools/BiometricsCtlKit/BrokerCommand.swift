import ArgumentParser
import Foundation
import Kafka
import Logging
import Messages
import Runtime
import ServiceLifecycle

/// `biometricsctl broker`: an embedded Kafka-protocol broker with every project topic pre-created.
struct BrokerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "broker",
        abstract: "Run an embedded Kafka-protocol broker (librdkafka's mock cluster) with the project's topics.",
        discussion: """
            For development and tests. It listens on an ephemeral 127.0.0.1 port (the mock cluster cannot bind a \
            fixed one), prints `BROKER bootstrap=HOST:PORT` and writes the address to --address-file. Limits: no \
            compaction, offsets-for-times unsupported, ~5 MiB kept per partition.
            """)

    @Option(help: "Write the bootstrap address to this file once the broker is up (removed on exit).")
    var addressFile: String?

    @Option(help: "Number of brokers in the cluster.")
    var brokers: Int = 1

    func run() async throws {
        let logger = ServiceRunner.bootstrap(try CommonConfiguration(serviceName: "embedded-broker", defaultHTTPPort: 0))
        let broker = try await EmbeddedBroker.start(brokerCount: brokers, topics: Topics.all.map(NewTopic.init), logger: logger)
        if let addressFile { try writeAtomically(broker.bootstrapServers, to: addressFile) }
        defer { if let addressFile { try? FileManager.default.removeItem(atPath: addressFile) } }
        print("BROKER bootstrap=\(broker.bootstrapServers) topics=\(Topics.all.count)")
        fflush(nil)  // the dev stack waits for this line
        try await ServiceRunner.run(services: [EmbeddedBrokerService(broker: broker)],
                                    configuration: try CommonConfiguration(serviceName: "embedded-broker", defaultHTTPPort: 0),
                                    logger: logger)
    }
}

/// Keeps the embedded broker alive until graceful shutdown.
struct EmbeddedBrokerService: Service {
    let broker: EmbeddedBroker
    func run() async throws {
        try? await gracefulShutdown()
        _ = broker
    }
}

extension NewTopic {
    /// The Kafka admin description of a catalog topic.
    init(_ spec: TopicSpec) {
        self.init(name: spec.name, partitions: spec.partitions, config: spec.configs)
    }
}

/// Writes text to a file via a temporary file and a rename, so readers never see a partial address.
func writeAtomically(_ text: String, to path: String) throws {
    let temporary = path + ".tmp-\(getpid())"
    try Data((text + "\n").utf8).write(to: URL(fileURLWithPath: temporary))
    guard rename(temporary, path) == 0 else {
        throw ValidationError("cannot write \(path): \(String(cString: strerror(errno)))")
    }
}
