import Auth
import Kafka
import Logging
import Messages
import NIOCore
import NIOPosix
import Runtime
import ServiceLifecycle

/// The gateway's object graph: Kafka producer and delivery consumer, sessions, the NIO server, stats.
public struct GatewayApplication: Sendable {
    /// The listening server (its `boundPort()` answers once it listens).
    public let server: GatewayServer
    /// Every long-running part, dependencies first (shut down in reverse: the server stops first).
    public let services: [any Service]
    let context: GatewayContext
    private let configuration: GatewayConfiguration
    private let logger: Logger

    /// Process-wide settings, made once by the executable before anything else: the sockets' event loops are NIO's
    /// singleton group, `EVENT_LOOP_THREADS` of them (NIO itself would count the machine's CPUs, not the ones this
    /// process may use). Tests leave it alone: in-process gateways share the singleton at NIO's default.
    public static func configureProcess(_ configuration: GatewayConfiguration) {
        NIOSingletons.groupLoopCountSuggestion = configuration.eventLoopThreads
    }

    /// Builds the gateway; fails on a bad token key or Kafka configuration.
    public init(configuration: GatewayConfiguration, logger: Logger) async throws {
        self.configuration = configuration
        self.logger = logger
        let verifier = try await TokenVerifier(configuration: configuration.tokens)
        let kafka = configuration.common.kafka
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(kafka: kafka), logger: logger)
        let outbound = KafkaOutbound(producer: producer, logger: logger)
        // One admin client for the start-up questions (partition counts, where the topics end), without statistics.
        var quiet = kafka
        quiet.statisticsInterval = nil
        let admin = try KafkaAdmin(configuration: quiet, logger: logger)
        let partitions = await GatewayPartitions.discover(admin: admin, logger: logger)
        let context = try GatewayContext(configuration: configuration, verifier: verifier, outbound: outbound,
                                         partitions: partitions, logger: logger)
        self.context = context
        // Every partition, no group: deliveries from one recovery window back when recovery is on (no socket is
        // connected yet, so that backlog only fills the history reconnecting clients are replayed from), else from
        // the end; frames from the end.
        let backlog = try await context.recovery?.deliveryBacklog()
        let deliveries = (0..<partitions.deliveries).map { TopicPartition(topic: Topics.gatewayDeliveries, partition: Int32($0)) }
        let frames = (0..<partitions.frames).map { TopicPartition(topic: Topics.biometricFrames, partition: Int32($0)) }
        var assignment = await Self.currentEnds(of: backlog == nil ? deliveries + frames : frames, admin: admin,
                                                logger: logger)
        if let backlog {
            for (index, partition) in deliveries.enumerated() { assignment[partition] = .offset(backlog.starts[index]) }
        }
        let consumer = try KafkaConsumer(
            configuration: KafkaConsumerConfiguration(kafka: kafka, mode: .assign(assignment)), logger: logger)
        server = GatewayServer(context: context, group: MultiThreadedEventLoopGroup.singleton)
        let stats = StatsPublisher(
            configuration: configuration.common,
            producer: EnvelopeProducer(producer: producer, source: context.source), logger: logger)
        let recoveryIndex: [any Service] = context.recovery.map { [$0.index] } ?? []
        services = [producer, outbound] + recoveryIndex + [
            DeliveryRelay(consumer: consumer, context: context, backlog: backlog), LivenessPublisher(context: context),
            stats, server,
        ]
    }

    /// The end of each partition as of now. librdkafka resolves a logical `.end` only when it first fetches, and
    /// whatever is written before that (the reply to a first socket's request, a first frame) would be skipped; an
    /// offset asked for here is where the gateway's history starts. Where the broker cannot answer, `.end`.
    static func currentEnds(of partitions: [TopicPartition], admin: KafkaAdmin, logger: Logger) async
        -> [TopicPartition: KafkaOffset]
    {
        do {
            let marks = try await admin.watermarks(partitions, timeout: .seconds(5))
            return marks.mapValues { .offset($0.high) }
        } catch {
            logger.warning("reading deliveries and frames from wherever the end is at the first fetch",
                           metadata: ["error.message": "\(error)"])
            return Dictionary(uniqueKeysWithValues: partitions.map { ($0, KafkaOffset.end) })
        }
    }

    /// Whether the gateway accepts connections (what `/ready` answers).
    public var isReady: Bool { context.isReady }

    /// Runs until SIGTERM/SIGINT, then drains in reverse order.
    public func run() async throws {
        try await ServiceRunner.run(services: services, configuration: configuration.common, logger: logger)
    }
}
