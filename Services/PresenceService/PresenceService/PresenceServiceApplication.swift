import Kafka
import Logging
import Messages
import Redis
import Runtime
import ServiceLifecycle

/// The presence service's object graph: ops endpoint, Kafka producer, the processors of `gateway.connections` and
/// `presence.commands` (shared groups), the gateway sweeper, the health publisher and stats.
public struct PresenceServiceApplication: Sendable {
    /// The ops endpoint (`/health`, `/ready`: Kafka + Redis, `/metrics`).
    public let opsServer: OpsServer
    /// The registry.
    public let store: PresenceStore
    /// The sweeper of silent gateways.
    public let sweeper: GatewaySweeper
    /// Every long-running part, dependencies first (shut down in reverse: the processors stop first).
    public let services: [any Service]
    /// The Redis client (closed when ``run()`` returns; embedders that run ``services`` themselves close it).
    public let redis: RedisClient
    private let configuration: PresenceServiceConfiguration
    private let logger: Logger

    /// Builds the service; fails on a bad Kafka or Redis configuration.
    public init(configuration: PresenceServiceConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        let common = configuration.common
        let kafka = common.kafka
        let producer = try EnvelopeProducer(configuration: common, logger: logger)
        let redis = try RedisClient(configuration: configuration.redis, logger: logger)
        self.redis = redis
        let store = PresenceStore(redis: redis, settings: PresenceStore.Settings(
            keyTTL: configuration.keyTTL, memoTTL: configuration.idempotencyTTL,
            defaultGrace: configuration.grace(intervalSeconds: nil), sessionIdle: configuration.sessionIdle))
        self.store = store
        let dispatcher = DeliveryDispatcher(
            store: store, producer: producer, redisRetry: configuration.redisRetry, logger: logger)
        let commands = CommandHandler(
            store: store, dispatcher: dispatcher, broadcastMaxPayloadBytes: configuration.broadcastMaxPayloadBytes,
            logger: logger)
        let connections = ConnectionHandler(
            store: store, dispatcher: dispatcher, grace: { [configuration] in configuration.grace(intervalSeconds: $0) },
            logger: logger)
        let admin = try KafkaAdmin(configuration: kafka, logger: logger)
        let deadLetters = DeadLetterSink(producer: producer)
        let connectionProcessor = TopicProcessor(
            topic: Topics.gatewayConnections,
            consumer: try KafkaConsumer(
                configuration: KafkaConsumerConfiguration(
                    kafka: kafka, mode: .group(id: configuration.groupId + "-connections"),
                    topics: [Topics.gatewayConnections]),
                logger: logger),
            deadLetters: deadLetters, logger: logger
        ) { message, record in
            try await connections.handle(message, partition: record.partition, offset: record.offset)
        }
        let commandProcessor = TopicProcessor(
            topic: Topics.presenceCommands,
            consumer: try KafkaConsumer(
                configuration: KafkaConsumerConfiguration(
                    kafka: kafka, mode: .group(id: configuration.groupId), topics: [Topics.presenceCommands]),
                logger: logger),
            deadLetters: deadLetters, logger: logger
        ) { message, _ in
            try await commands.handle(message)
        }
        opsServer = OpsServer(
            configuration: OpsServer.Configuration(common), readinessChecks: [.kafka(admin), .redis(redis)],
            logger: logger)
        sweeper = GatewaySweeper(
            store: store, dispatcher: dispatcher, admin: admin, interval: configuration.sweepInterval,
            startDelay: configuration.grace(intervalSeconds: nil), instanceId: common.instanceId, logger: logger)
        let health = ServerHealthPublisher(
            store: store, producer: producer, interval: configuration.healthInterval, instanceId: common.instanceId,
            logger: logger)
        services = [opsServer, producer.producer, connectionProcessor, commandProcessor, sweeper, health,
                    StatsPublisher(configuration: common, producer: producer, logger: logger)]
    }

    /// Runs until SIGTERM/SIGINT, then drains in reverse order (commits what was handled) and closes Redis.
    public func run() async throws {
        do {
            try await ServiceRunner.run(services: services, configuration: configuration.common, logger: logger)
        } catch {
            await redis.close()
            throw error
        }
        await redis.close()
    }
}
