import Foundation
import Logging
import Messages
import Metrics
import ServiceLifecycle

/// Every sweep interval: finds gateways silent past their grace (the sorted set of deadlines, never a key scan),
/// cleans up their sockets — presence, rooms, sessions — and publishes what changed; then refreshes the gauges
/// (online users, sockets, rooms, sessions, gateways). Several instances may sweep: a per-gateway lock lets one do it.
public struct GatewaySweeper: Service, CustomStringConvertible {
    private let store: PresenceStore
    private let dispatcher: DeliveryDispatcher
    private let interval: Duration
    private let startDelay: Duration
    private let instanceId: String
    private let logger: Logger

    /// Creates the sweeper; it first sweeps `startDelay` after starting (a grace), so that after an outage the
    /// backlog of liveness records pushes every live gateway's deadline before any gateway can count as dead.
    public init(store: PresenceStore, dispatcher: DeliveryDispatcher, interval: Duration, startDelay: Duration,
                instanceId: String, logger: Logger) {
        self.store = store
        self.dispatcher = dispatcher
        self.interval = interval
        self.startDelay = startDelay
        self.instanceId = instanceId
        self.logger = logger
    }

    /// A short description for service group logs.
    public var description: String { "GatewaySweeper(\(interval))" }

    /// Sweeps until graceful shutdown.
    public func run() async throws {
        try? await refreshGauges()
        try? await cancelWhenGracefulShutdown { try await Task.sleep(for: startDelay) }
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await sweepOnce()
                try await refreshGauges()
            } catch {
                logger.warning("presence sweep failed; trying again next interval", metadata: ["error.message": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }

    /// Cleans up every gateway whose deadline has passed; returns how many sockets were removed.
    @discardableResult
    public func sweepOnce(now: Date = Date()) async throws -> Int {
        var removed = 0
        for gatewayId in try await store.silentGateways(now: now) {
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
