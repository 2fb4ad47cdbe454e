/// Topic names and THE catalog of topics: the embedded broker and `biometricsctl topics create` both use `all`.
///
/// Partition counts: the command topics, deliveries and frames carry per-user or per-device traffic and are the
/// units of consumer parallelism, so 12 (divisible by 1, 2, 3, 4 and 6 instances); records and verifications are
/// keyed by record and modest in volume, 6; connections are keyed by gateway (few keys), 6; metrics and dead
/// letters are low volume and read by one consumer, 3.
public enum Topics {
    /// Gateway → verification worker: client `biometric:*` commands.
    public static let verificationCommands = "verification.commands"
    /// Gateway → presence service: client `session:*`, `presence:*`, `broadcast:*` commands.
    public static let presenceCommands = "presence.commands"
    /// Gateway and backends → notification service.
    public static let notificationCommands = "notification.commands"
    /// Gateway → presence service: connected, disconnected, liveness.
    public static let gatewayConnections = "gateway.connections"
    /// Services → every gateway: events and controls for sockets.
    public static let gatewayDeliveries = "gateway.deliveries"
    /// Gateway → every gateway: raw binary stream frames.
    public static let biometricFrames = "biometric.frames"
    /// Backends, `biometricsctl enroll` → verification worker: enrolled credentials (compacted).
    public static let biometricRecords = "biometric.records"
    /// Verification worker → audit and backends: every verification outcome.
    public static let biometricVerifications = "biometric.verifications"
    /// Every service → metrics exporter: Prometheus snapshots.
    public static let serviceMetrics = "service.metrics"
    /// Any service → operators: records that failed.
    public static let deadletter = "deadletter"

    private static let hour: Int64 = 3_600_000
    private static let day: Int64 = 24 * hour

    /// Every topic of the system, in a stable order.
    public static let all: [TopicSpec] = [
        // Commands: kept a week so an operator can replay a day's traffic into a fixed service.
        TopicSpec(
            name: verificationCommands, partitions: 12, cleanupPolicy: .delete, retentionMs: 7 * day,
            keyedBy: "principal.userId", schema: "topics/verification.commands.schema.json"),
        TopicSpec(
            name: presenceCommands, partitions: 12, cleanupPolicy: .delete, retentionMs: 7 * day,
            keyedBy: "principal.userId", schema: "topics/presence.commands.schema.json"),
        TopicSpec(
            name: notificationCommands, partitions: 12, cleanupPolicy: .delete, retentionMs: 7 * day,
            keyedBy: "principal.userId (notification:create: payload.targetUserId)",
            schema: "topics/notification.commands.schema.json"),
        // Connections: a day is plenty; presence rebuilds from liveness after a restart.
        TopicSpec(
            name: gatewayConnections, partitions: 6, cleanupPolicy: .delete, retentionMs: day,
            keyedBy: "payload.gatewayId", schema: "topics/gateway.connections.schema.json"),
        // Deliveries and frames are only useful live; an hour covers a gateway restart and debugging.
        TopicSpec(
            name: gatewayDeliveries, partitions: 12, cleanupPolicy: .delete, retentionMs: hour,
            keyedBy: "<target.kind>:<target.id> (kind all: gatewayId or none)",
            schema: "topics/gateway.deliveries.schema.json"),
        TopicSpec(
            name: biometricFrames, partitions: 12, cleanupPolicy: .delete, retentionMs: hour,
            keyedBy: "device id", schema: "topics/biometric.frames.schema.json"),
        // Records are state: compacted, the latest value per recordId is kept forever.
        TopicSpec(
            name: biometricRecords, partitions: 6, cleanupPolicy: .compact, retentionMs: nil,
            keyedBy: "payload.recordId", schema: "topics/biometric.records.schema.json"),
        // Audit: a month in Kafka; backends archive longer.
        TopicSpec(
            name: biometricVerifications, partitions: 6, cleanupPolicy: .delete, retentionMs: 30 * day,
            keyedBy: "payload.recordId", schema: "topics/biometric.verifications.schema.json"),
        TopicSpec(
            name: serviceMetrics, partitions: 3, cleanupPolicy: .delete, retentionMs: day,
            keyedBy: "<service>/<instance>", schema: "topics/service.metrics.schema.json"),
        // Dead letters: two weeks for an operator to look and replay.
        TopicSpec(
            name: deadletter, partitions: 3, cleanupPolicy: .delete, retentionMs: 14 * day,
            keyedBy: "originalTopic", schema: "topics/deadletter.schema.json"),
    ]

    /// The spec of topic `name`, if it is one of `all`.
    public static func spec(named name: String) -> TopicSpec? {
        all.first { $0.name == name }
    }
}
