import Kafka
import Logging
import Messages
import Redis
import Runtime
import ServiceLifecycle

/// The verification worker's object graph: ops endpoint, Kafka producer, record registry, grant withdrawer, the
/// disconnect follower on `gateway.connections` and the command processor on `verification.commands` (shared
/// groups), and stats.
public struct VerificationWorkerApplication: Sendable {
    /// The ops endpoint (`/health`, `/ready`: Kafka + Redis + registry caught up, `/metrics`).
    public let opsServer: OpsServer
    /// The view of `biometric.records`.
    public let registry: RecordRegistry
    /// Every long-running part, dependencies first (shut down in reverse: the command processor stops first).
    public let services: [any Service]
    /// The Redis client (closed when ``run()`` returns; embedders that run ``services`` themselves close it).
    public let redis: RedisClient
    private let configuration: VerificationWorkerConfiguration
    private let logger: Logger

    /// Builds the worker; fails on a bad Kafka or Redis configuration.
    public init(configuration: VerificationWorkerConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        let common = configuration.common
        let kafka = common.kafka
        let producer = EnvelopeProducer(
            producer: try KafkaProducer(configuration: KafkaProducerConfiguration(kafka: kafka), logger: logger),
            source: Source(service: common.serviceName, instance: common.instanceId))
        let redis = try RedisClient(configuration: configuration.redis, logger: logger)
        self.redis = redis
        let admin = try KafkaAdmin(configuration: kafka, logger: logger)
        let registry = try RecordRegistry(
            kafka: kafka, admin: admin, catchUpTimeout: configuration.registryCatchUpTimeout, logger: logger)
        self.registry = registry
        let grants = GrantBook(redis: redis, ttl: configuration.grantTTL)
        let handler = VerificationHandler(
            registry: registry,
            challenges: ChallengeStore(redis: redis, ttl: configuration.challengeTTL, memory: configuration.challengeMemory),
            grants: grants, redis: redis, producer: producer, idempotencyTTL: configuration.idempotencyTTL,
            logger: logger)
        let consumer = try KafkaConsumer(
            configuration: KafkaConsumerConfiguration(
                kafka: kafka, mode: .group(id: configuration.groupId), topics: [Topics.verificationCommands]),
            logger: logger)
        let processor = TopicProcessor(
            topic: Topics.verificationCommands, consumer: consumer, deadLetters: DeadLetterSink(producer: producer),
            logger: logger
        ) { message, _ in
            try await handler.handle(message)
        }
        // Disconnected sockets' grants are forgotten (a group of its own: every disconnect, once per group).
        let connections = TopicProcessor(
            topic: Topics.gatewayConnections,
            consumer: try KafkaConsumer(
                configuration: KafkaConsumerConfiguration(
                    // From the beginning on the group's first start (1 day of retention): no disconnect is missed.
                    kafka: kafka, mode: .group(id: configuration.connectionsGroupId), topics: [Topics.gatewayConnections],
                    latency: .background),
                logger: logger),
            deadLetters: DeadLetterSink(producer: producer), logger: logger
        ) { message, _ in
            if let disconnected = message.payload as? ConnectionDisconnected {
                try await grants.forgetSocket(gatewayId: disconnected.gatewayId, socketId: disconnected.socketId)
            }
        }
        opsServer = OpsServer(
            configuration: OpsServer.Configuration(common),
            readinessChecks: [
                .kafka(admin), .redis(redis),
                ReadinessCheck(name: "registry") { registry.isCaughtUp },
            ],
            logger: logger)
        services = [opsServer, producer.producer, registry,
                    GrantWithdrawer(registry: registry, book: grants, producer: producer, logger: logger),
                    connections, processor,
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
