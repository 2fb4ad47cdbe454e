import Foundation

/// One periodic metrics snapshot a service publishes to the `service.metrics` topic.
public struct StatsSnapshot: Sendable, Codable, Equatable {
    /// The format of ``text`` produced by ``MetricsBootstrap``.
    public static let prometheusTextFormat = "prometheus-text-0.0.4"

    /// The publishing service, e.g. `gateway`.
    public var service: String
    /// The publishing instance (`INSTANCE_ID`).
    public var instance: String
    /// The configured period between snapshots, in seconds.
    public var intervalSeconds: Double
    /// How ``text`` is encoded; `prometheus-text-0.0.4`.
    public var format: String
    /// The metrics, in ``format``.
    public var text: String
    /// When the snapshot was taken.
    public var takenAt: Date

    /// Creates a snapshot.
    public init(
        service: String,
        instance: String,
        intervalSeconds: Double,
        format: String = StatsSnapshot.prometheusTextFormat,
        text: String,
        takenAt: Date
    ) {
        self.service = service
        self.instance = instance
        self.intervalSeconds = intervalSeconds
        self.format = format
        self.text = text
        self.takenAt = takenAt
    }
}
