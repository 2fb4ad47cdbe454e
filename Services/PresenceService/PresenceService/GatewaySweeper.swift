import Foundation
import Kafka
import Logging
import Messages
import Metrics
import ServiceLifecycle

/// Every sweep interval: finds gateways silent past their grace (the sorted set of deadlines, never a key scan),
/// cleans up their sockets — presence, rooms, sessions — and publishes what changed; then refreshes the gauges
/// (online users, sockets, rooms, sessions, gateways). Several instances may sweep: a per-gateway lock lets one do it.
///
/// A deadline alone does not prove a gateway dead: the consumer of `gateway.connections` may lag (a rebalance, a slow
/// instance) while the gateway's liveness records wait in Kafka. So a gateway is cleaned up only once everything on
/// its partition that existed at the previous sweep has been handled — had it reported since, that report would
/// have pushed its deadline.
public struct GatewaySweeper: Service, CustomStringConvertible {
    private let store: PresenceStore
    private let dispatcher: DeliveryDispatcher
    private let admin: KafkaAdmin?
    private let interval: Duration
    private let startDelay: Duration
    private let instanceId: String
    private let logger: Logger

    /// Creates the sweeper; it first sweeps `startDelay` after starting (a grace), so that after an outage the
    /// backlog of liveness records pushes every live gateway's deadline before any gateway can count as dead.
    /// Without `admin` the consumer's progress is not checked (deadlines alone decide).
    public init(store: PresenceStore, dispatcher: DeliveryDispatcher, admin: KafkaAdmin?, interval: Duration,
                startDelay: Duration, instanceId: String, logger: Logger) {
        self.store = store
        self.dispatcher = dispatcher
        self.admin = admin
        self.interval = interval
        self.startDelay = startDelay
        self.instanceId = instanceId
        self.logger = logger
    }

    /// A short description for service group logs.
    public var description: String { "GatewaySweeper(\(interval))" }

    /// A watermark answer slower than this ends the sweep as failed.
    static let slowAnswer: Duration = .seconds(1)

    /// High watermarks of `gateway.connections` partitions, measured at one sweep for the next.
    public typealias Watermarks = [Int32: Int64]

    /// Sweeps until graceful shutdown.
    public func run() async throws {
        try? await refreshGauges()
        try? await cancelWhenGracefulShutdown { try await Task.sleep(for: startDelay) }
        var watermarks: Watermarks = [:]
        var measuredAt = ContinuousClock.now
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            var pause = interval
            do {
                // Watermarks older than about one sweep prove nothing: what the gateways held back since (an outage
                // this sweeper did not see fail) may be missing from them. Measured afresh, compared next time.
                if ContinuousClock.now - measuredAt > interval * 2 + Self.slowAnswer { watermarks = [:] }
                let started = ContinuousClock.now
                try await sweepOnce(watermarks: &watermarks)
                measuredAt = started
                try await refreshGauges()
            } catch {
                // Kafka (or Redis) was out of reach: the gateways' liveness records of that time may still wait in
                // their producers, so silence proves nothing yet. As at start: wait a grace, then measure afresh
                // (no gateway is swept before its partition is read past a watermark taken after the outage).
                // Without this, a broker outage longer than the grace made every live gateway "dead" and closed
                // all its sockets and sessions (found by `biometricsctl chaos`, scenario broker-down).
                watermarks = [:]
                pause = max(interval, startDelay)
                logger.warning("presence sweep failed; waiting a grace before the next one", metadata: [
                    "error.message": "\(error)", "presence.pause": "\(pause)",
                ])
            }
            try? await cancelWhenGracefulShutdown { [pause] in try await Task.sleep(for: pause) }
        }
    }

    /// Cleans up every gateway whose deadline has passed and whose partition the consumer has caught up on (by
    /// `watermarks` from the previous sweep, which this one replaces); returns how many sockets were removed.
    @discardableResult
    public func sweepOnce(now: Date = Date(), watermarks: inout Watermarks) async throws -> Int {
        var removed = 0
        var measured: Watermarks = [:]
        for gatewayId in try await store.silentGateways(now: now) {
            if let admin, let progress = try await store.progress(of: gatewayId) {
                if measured[progress.partition] == nil {
                    let partition = TopicPartition(topic: Topics.gatewayConnections, partition: progress.partition)
                    let asked = ContinuousClock.now
                    measured[progress.partition] = try await admin.watermarks(partition, timeout: .seconds(5)).high
                    // A slow answer is an outage that just ended (the request waited for the broker): the previous
                    // sweep's watermarks predate records the gateways held back meanwhile, so this counts as a
                    // failed sweep (found when a sweep straddled the end of an 8 s outage and swept both gateways).
                    if ContinuousClock.now - asked > Self.slowAnswer {
                        throw PresenceServiceError(.kafkaSlow, "the watermarks of \(partition) took more than \(Self.slowAnswer)")
                    }
                }
                guard let earlier = watermarks[progress.partition], progress.handled + 1 >= earlier else {
                    Counter(label: "presence_sweeps_deferred_total").increment()
                    logger.debug("silent gateway not swept yet: its partition is not read up to date", metadata: [
                        "gateway.id": "\(gatewayId)", "kafka.partition": "\(progress.partition)",
                    ])
                    continue
                }
            }
            guard try await store.acquire("sweep:\(gatewayId)", owner: instanceId, ttl: .seconds(30)) else { continue }
            guard let removals = try await store.expireGateway(gatewayId, now: now) else { continue }
            Counter(label: "presence_gateways_expired_total").increment()
            // A gateway that shut down cleanly has no sockets left by now; one that died leaves some behind.
            logger.log(level: removals.isEmpty ? .info : .warning, "gateway silent past its grace: forgotten", metadata: [
                "gateway.id": "\(gatewayId)", "presence.removed": "\(removals.count)",
            ])
            try await dispatcher.send(removals.flatMap { PresencePlanner.removal($0, at: now) })
            removed += removals.count
        }
        watermarks = measured
        return removed
    }

    /// Records the registry counts as gauges.
    func refreshGauges() async throws {
        let counts = try await store.counts()
        Gauge(label: "presence_online_users").record(counts.users)
        Gauge(label: "presence_sockets").record(counts.sockets)
        Gauge(label: "presence_rooms").record(counts.rooms)
        Gauge(label: "presence_sessions").record(counts.sessions)
        Gauge(label: "presence_gateways").record(counts.gateways)
    }
}
