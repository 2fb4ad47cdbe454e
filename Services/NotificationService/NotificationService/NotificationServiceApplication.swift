import Kafka
import Logging
import Messages
import Runtime
import ServiceLifecycle

/// The notification service's object graph: ops endpoint, Kafka producer, retention job, the command processor on
/// `notification.commands` (shared group) and stats, over one ``SQLiteNotificationStore``.
public struct NotificationServiceApplication: Sendable {
    /// The ops endpoint (`/health`, `/ready`: Kafka + store, `/metrics`).
    public let opsServer: OpsServer
    /// The store (closed when ``run()`` returns; embedders that run ``services`` themselves close it).
    public let store: SQLiteNotificationStore
    /// The retention job (tests run passes directly).
    public let retention: RetentionJob
    /// Every long-running part, dependencies first (shut down in reverse: the command processor stops first).
    public let services: [any Service]
    private let configuration: NotificationServiceConfiguration
    private let logger: Logger

    /// Builds the service; fails on a bad Kafka configuration or a database it cannot open or migrate.
    public init(configuration: NotificationServiceConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        let common = configuration.common
        let kafka = common.kafka
        let store = try SQLiteNotificationStore(path: configuration.databasePath)
        self.store = store
        let producer = try EnvelopeProducer(configuration: common, logger: logger)
        let admin = try KafkaAdmin(configuration: kafka, logger: logger)
        let handler = NotificationHandler(store: store, producer: producer, configuration: configuration, logger: logger)
        let consumer = try KafkaConsumer(
            configuration: KafkaConsumerConfiguration(
                kafka: kafka, mode: .group(id: configuration.groupId), topics: [Topics.notificationCommands]),
            logger: logger)
        let processor = TopicProcessor(
            topic: Topics.notificationCommands, consumer: consumer, deadLetters: DeadLetterSink(producer: producer),
            logger: logger
        ) { message, _ in
            try await handler.handle(message)
        }
        retention = RetentionJob(
            store: store, interval: configuration.purgeInterval, readRetention: configuration.readRetention,
            idempotencyRetention: configuration.idempotencyRetention, logger: logger)
        opsServer = OpsServer(
            configuration: OpsServer.Configuration(common),
            readinessChecks: [.kafka(admin), ReadinessCheck(name: "store") { await store.isHealthy() }],
            logger: logger)
        services = [opsServer, producer.producer, retention, processor,
                    StatsPublisher(configuration: common, producer: producer, logger: logger)]
        logger.info("notification store open", metadata: ["notification.db_path": "\(configuration.databasePath)"])
    }

    /// Runs until SIGTERM/SIGINT, then drains in reverse order (commits what was handled) and closes the store.
    public func run() async throws {
        defer { try? store.close() }
        try await ServiceRunner.run(services: services, configuration: configuration.common, logger: logger)
    }
}
