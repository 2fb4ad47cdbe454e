import Auth
import Foundation
import Kafka
import Logging
import Messages
import Metrics
import NIOCore
import Runtime
import Synchronization

/// What every session of this gateway shares: configuration, the hub, token verification and the way to Kafka.
final class GatewayContext: Sendable {
    let configuration: GatewayConfiguration
    let hub: GatewayHub
    let verifier: TokenVerifier
    let outbound: KafkaOutbound
    let logger: Logger
    let source: Source
    /// Connection-state recovery, when `RECOVERY_MODE` is not off.
    let recovery: SessionRecovery?
    /// The delivery relay's position, for recovery.
    let deliveryCut: DeliveryCut
    private let ready = Atomic<Bool>(false)
    private let draining = Atomic<Bool>(false)
    private let flushers = Mutex<[ObjectIdentifier: FanOutFlusher]>([:])

    /// `partitions` counts the partitions of the topics recovery reads (as the cluster has them, which may differ
    /// from `Topics`' defaults).
    init(configuration: GatewayConfiguration, verifier: TokenVerifier, outbound: KafkaOutbound,
         partitions: GatewayPartitions, logger: Logger) throws {
        // Before anything can touch `GatewayMetrics`: its metrics are made once, and one made before the bootstrap
        // stays a no-op for good (a unit test building a context first left /metrics without them).
        MetricsBootstrap.bootstrap()
        let recoverable = configuration.recoveryMode != .off && configuration.recoverySecret != nil
        deliveryCut = DeliveryCut(partitions: partitions.deliveries,
                                  historyEntries: recoverable ? configuration.recoveryHistoryEntries : 0)
        if recoverable, let secret = configuration.recoverySecret {
            recovery = try SessionRecovery(
                secret: secret, window: configuration.recoveryWindow, maxReplay: Int64(configuration.recoveryMaxReplay),
                partitions: partitions, cut: deliveryCut, kafka: configuration.common.kafka, logger: logger)
        } else {
            recovery = nil
        }
        self.configuration = configuration
        self.verifier = verifier
        self.outbound = outbound
        self.logger = logger
        hub = GatewayHub(maxSocketsPerUser: configuration.maxSocketsPerUser,
                         maxConnectionsPerIPPerMinute: configuration.maxConnectionsPerIPPerMinute)
        source = Source(service: "gateway", instance: configuration.gatewayId)
    }

    var gatewayId: String { configuration.gatewayId }

    /// Whether new connections are accepted: ready (deliveries flowing) and not shutting down.
    var acceptsConnections: Bool { ready.load(ordering: .acquiring) && !draining.load(ordering: .acquiring) }
    /// Whether `/ready` answers 200.
    var isReady: Bool { acceptsConnections }

    /// The fan-out flusher of `loop` (one per event loop, made on first use; it keeps its loop alive).
    func flusher(for loop: any EventLoop) -> FanOutFlusher {
        flushers.withLock { flushers in
            if let flusher = flushers[ObjectIdentifier(loop)] { return flusher }
            let flusher = FanOutFlusher(eventLoop: loop)
            flushers[ObjectIdentifier(loop)] = flusher
            return flusher
        }
    }

    func markReady() { ready.store(true, ordering: .releasing) }
    func markDraining() { draining.store(true, ordering: .releasing) }
}

/// Gateway metrics (bounded labels only: event names come from the fixed client event list or "unknown").
enum GatewayMetrics {
    static let connections = Meter(label: "gateway_connections")
    /// One counter per client event, made once (a lookup by label per event costs a lock and hashing).
    private static let eventsInByName = Dictionary(uniqueKeysWithValues: ClientEvent.allCases.map {
        ($0.rawValue, Counter(label: "gateway_events_received_total", dimensions: [("event", $0.rawValue)]))
    })
    static func eventsIn(_ event: String) -> Counter {
        eventsInByName[event] ?? Counter(label: "gateway_events_received_total", dimensions: [("event", event)])
    }
    static let eventsOut = Counter(label: "gateway_events_sent_total")
    static func rejected(_ reason: String) -> Counter {
        Counter(label: "gateway_events_rejected_total", dimensions: [("reason", reason)])
    }
    static func disconnects(_ reason: String) -> Counter {
        Counter(label: "gateway_disconnects_total", dimensions: [("reason", reason)])
    }
    static let framesDropped = Counter(label: "gateway_stream_frames_dropped_total")
    static let relayLatency = Timer(label: "gateway_relay_duration_seconds", preferredDisplayUnit: .seconds)
    static func recoveries(_ outcome: String) -> Counter {
        Counter(label: "gateway_recoveries_total", dimensions: [("outcome", outcome)])
    }
    static func refusedConnections(_ reason: String) -> Counter {
        Counter(label: "gateway_connections_refused_total", dimensions: [("reason", reason)])
    }
}
