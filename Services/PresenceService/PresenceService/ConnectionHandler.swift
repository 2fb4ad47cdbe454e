import Foundation
import Logging
import Messages
import Metrics

/// Keeps the registry in step with `gateway.connections` (connected, disconnected, liveness, the rooms of recovered
/// sockets) and publishes what changes: online/offline presence, members leaving (and after a recovery rejoining)
/// rooms, sessions ending with their socket.
public struct ConnectionHandler: Sendable {
    private let store: PresenceStore
    private let dispatcher: DeliveryDispatcher
    private let grace: @Sendable (Int?) -> Duration
    private let logger: Logger

    /// Creates the handler; `grace` gives a gateway's grace from the interval it reports.
    public init(store: PresenceStore, dispatcher: DeliveryDispatcher, grace: @escaping @Sendable (Int?) -> Duration,
                logger: Logger) {
        self.store = store
        self.dispatcher = dispatcher
        self.grace = grace
        self.logger = logger
    }

    /// Handles one record (`partition` and `offset` where it was read); throwing sends it to the dead-letter topic.
    public func handle(_ message: DecodedMessage, partition: Int32? = nil, offset: Int64? = nil) async throws {
        try await process(message)
        guard let partition, let offset, let gatewayId = Self.gatewayId(of: message) else { return }
        try await dispatcher.retryingRedis {
            try await store.noteProgress(partition: partition, offset: offset, gatewayId: gatewayId)
        }
    }

    static func gatewayId(of message: DecodedMessage) -> String? {
        switch message.payload {
        case let event as ConnectionConnected: event.gatewayId
        case let event as ConnectionDisconnected: event.gatewayId
        case let record as ConnectionRooms: record.gatewayId
        case let report as GatewayLiveness: report.gatewayId
        default: nil
        }
    }

    private func process(_ message: DecodedMessage) async throws {
        let id = message.header.id
        try await dispatcher.process(id) {
            let now = Date()
            switch message.payload {
            case let event as ConnectionConnected:
                guard let arrival = try await store.connected(event, id: id, now: now) else { return [] }
                return PresencePlanner.arrival(arrival, at: now)
            case let event as ConnectionDisconnected:
                let removals = try await store.disconnected(event, at: message.header.occurredAt, id: id, now: now)
                return removals.flatMap { PresencePlanner.removal($0, at: now) }
            case let record as ConnectionRooms:
                // Rooms of a recoverable socket: they matter here only right after a recovery (see the README).
                guard !record.disconnected else { return [] }
                let joined = try await store.restoreRooms(record, id: id, now: now)
                if !joined.isEmpty {
                    Counter(label: "presence_rooms_restored_total").increment(by: joined.count)
                }
                return joined.map {
                    Outgoing(PresencePlanner.memberJoined(userId: record.userId, roomId: $0), key: record.userId)
                }
            case let report as GatewayLiveness:
                let (removals, arrivals) = try await store.liveness(
                    report, grace: grace(report.intervalSeconds), reportedAt: message.header.occurredAt, id: id, now: now)
                if !removals.isEmpty || !arrivals.isEmpty {
                    logger.info("liveness reconciled the registry", metadata: [
                        "gateway.id": "\(report.gatewayId)", "presence.removed": "\(removals.count)",
                        "presence.registered": "\(arrivals.count)",
                    ])
                    Counter(label: "presence_liveness_reconciled_total", dimensions: [("change", "removed")])
                        .increment(by: removals.count)
                    Counter(label: "presence_liveness_reconciled_total", dimensions: [("change", "registered")])
                        .increment(by: arrivals.count)
                }
                return removals.flatMap { PresencePlanner.removal($0, at: now) }
                    + arrivals.flatMap { PresencePlanner.arrival($0, at: now) }
            default:
                throw PresenceServiceError(.unexpectedMessage, "\(message.type) is not a connection record")
            }
        }
    }
}
