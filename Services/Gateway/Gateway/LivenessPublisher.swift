import Foundation
import Kafka
import Messages
import ServiceLifecycle

/// Publishes this gateway's liveness record (its sockets) to `gateway.connections` every interval, so the presence
/// service can clean up after a gateway that died without saying goodbye; and refreshes the room records of
/// recoverable sockets every half recovery window.
struct LivenessPublisher: Service {
    let context: GatewayContext

    func run() async throws {
        let interval = context.configuration.livenessInterval
        let seconds = max(1, Int(interval.components.seconds))
        var lastRoomsRecord = ContinuousClock.now
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            // Recoverable sockets' room records never get older than half a recovery window.
            if context.recovery != nil, ContinuousClock.now - lastRoomsRecord >= context.configuration.recoveryWindow / 2 {
                lastRoomsRecord = .now
                for session in context.hub.recoverableSessions() { session.recordRooms(disconnected: false) }
            }
            let sockets = context.hub.socketList()
            let list = sockets.count <= MessageLimits.maxLivenessSockets
                ? sockets.map { LivenessSocket(socketId: $0.socketID, userId: $0.userId) } : nil
            let liveness = GatewayLiveness(gatewayId: context.gatewayId, intervalSeconds: seconds,
                                           socketCount: sockets.count, sockets: list)
            if let value = try? liveness.encodedEnvelope(source: context.source) {
                _ = context.outbound.submit(OutgoingMessage(topic: Topics.gatewayConnections, key: context.gatewayId,
                                                            value: Array(value)))
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}
