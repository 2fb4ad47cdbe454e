/// One Kafka topic as the broker pre-creation and `biometricsctl topics create` create it.
public struct TopicSpec: Sendable, Hashable {
    /// Kafka `cleanup.policy`.
    public enum CleanupPolicy: String, Sendable, Hashable, CaseIterable {
        /// Delete old segments after `retentionMs`.
        case delete
        /// Keep the latest value per key.
        case compact
    }

    /// Topic name.
    public let name: String
    /// Partition count.
    public let partitions: Int
    /// Cleanup policy.
    public let cleanupPolicy: CleanupPolicy
    /// `retention.ms`; nil keeps the broker default (compacted topics).
    public let retentionMs: Int64?
    /// What the record key is, for operators.
    public let keyedBy: String
    /// The topic's schema under `schemas/`.
    public let schema: String

    /// Creates a topic spec.
    public init(
        name: String, partitions: Int, cleanupPolicy: CleanupPolicy, retentionMs: Int64?, keyedBy: String,
        schema: String
    ) {
        self.name = name
        self.partitions = partitions
        self.cleanupPolicy = cleanupPolicy
        self.retentionMs = retentionMs
        self.keyedBy = keyedBy
        self.schema = schema
    }

    /// Topic configs for the admin API (`cleanup.policy`, `retention.ms`).
    public var configs: [String: String] {
        var configs = ["cleanup.policy": cleanupPolicy.rawValue]
        if let retentionMs { configs["retention.ms"] = String(retentionMs) }
        return configs
    }

    /// The envelope types that travel on this topic (none for biometric.frames, whose values are raw bytes).
    public var messageTypes: [String] {
        MessageCatalog.payloadTypes.filter { $0.topic == name }.map { $0.messageType }
    }
}
