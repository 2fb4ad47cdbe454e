import Kafka
import Logging
import Messages

/// How many partitions the topics the gateway reads have in this cluster (which may differ from `Topics`' defaults).
///
/// The delivery relay assigns itself every partition of `gateway.deliveries` and `biometric.frames` (no consumer group:
/// every gateway reads everything, and no group rebalance delays its start); recovery positions have one entry per
/// delivery partition. Partitions added to a topic later are read after the gateway's next restart.
struct GatewayPartitions: Sendable {
    /// `gateway.deliveries`.
    var deliveries: Int
    /// `gateway.connections`.
    var connections: Int
    /// `biometric.frames`.
    var frames: Int

    /// `Topics`' defaults.
    static let defaults = GatewayPartitions(
        deliveries: Topics.spec(named: Topics.gatewayDeliveries)?.partitions ?? 1,
        connections: Topics.spec(named: Topics.gatewayConnections)?.partitions ?? 1,
        frames: Topics.spec(named: Topics.biometricFrames)?.partitions ?? 1)

    /// Asks the cluster; where it cannot answer (a topic missing, the broker unreachable for 10 s), the defaults.
    static func discover(admin: KafkaAdmin, logger: Logger) async -> GatewayPartitions {
        var counts = defaults
        do {
            let topics = try await admin.listTopics(timeout: .seconds(10))
            for topic in topics where !topic.partitions.isEmpty {
                switch topic.name {
                case Topics.gatewayDeliveries: counts.deliveries = topic.partitions.count
                case Topics.gatewayConnections: counts.connections = topic.partitions.count
                case Topics.biometricFrames: counts.frames = topic.partitions.count
                default: break
                }
            }
        } catch {
            logger.warning("partition counts unknown; using the defaults", metadata: ["error.message": "\(error)"])
        }
        return counts
    }
}
