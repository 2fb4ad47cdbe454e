import Auth
import Kafka
import Logging
import Messages
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

    /// Builds the gateway; fails on a bad token key or Kafka configuration.
    public init(configuration: GatewayConfiguration, logger: Logger) async throws {
        self.configuration = configuration
        self.logger = logger
        let verifier = try await TokenVerifier(configuration: configuration.tokens)
        let kafka = configuration.common.kafka
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(kafka: kafka), logger: logger)
        let outbound = KafkaOutbound(producer: producer, logger: logger)
        let partitions = configuration.recoveryMode == .off
            ? RecoveryPartitions.defaults : await RecoveryPartitions.discover(kafka: kafka, logger: logger)
        let context = try GatewayContext(configuration: configuration, verifier: verifier, outbound: outbound,
                                         partitions: partitions, logger: logger)
        self.context = context
        let consumer = try KafkaConsumer(
            configuration: KafkaConsumerConfiguration(
                kafka: kafka, mode: .broadcast(groupPrefix: "gateway-\(configuration.gatewayId)"),
                topics: [Topics.gatewayDeliveries, Topics.biometricFrames], startFromBeginning: false),
            logger: logger)
        server = GatewayServer(context: context, group: MultiThreadedEventLoopGroup.singleton)
        let stats = StatsPublisher(
            configuration: configuration.common,
            producer: EnvelopeProducer(producer: producer, source: context.source), logger: logger)
        let recoveryIndex: [any Service] = context.recovery.map { [$0.index] } ?? []
        services = [producer, outbound] + recoveryIndex + [
            DeliveryRelay(consumer: consumer, context: context), LivenessPublisher(context: context),
            HealthBroadcaster(context: context), stats, server,
        ]
    }

    /// Whether the gateway accepts connections (what `/ready` answers).
    public var isReady: Bool { context.isReady }

    /// Runs until SIGTERM/SIGINT, then drains in reverse order.
    public func run() async throws {
        try await ServiceRunner.run(services: services, configuration: configuration.common, logger: logger)
    }
}
