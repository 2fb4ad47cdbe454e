import Foundation
import Messages
import ServiceLifecycle
import SocketIO

/// Sends `server:health {gatewayId, connections, users, timestamp}` to this gateway's sockets in the `admin` room
/// (users with role ADMIN) every `HEALTH_INTERVAL_SECONDS`. Each gateway reports itself; admins connected to
/// different gateways see different gateways.
struct HealthBroadcaster: Service {
    let context: GatewayContext

    func run() async throws {
        let interval = context.configuration.healthInterval
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            guard !Task.isShuttingDownGracefully, !Task.isCancelled else { break }
            let admins = context.hub.recipients(for: .room(Rooms.admin))
            guard !admins.isEmpty else { continue }
            let health: SocketIOValue = [
                "gatewayId": .string(context.gatewayId), "connections": .number(Double(context.hub.socketCount)),
                "users": .number(Double(context.hub.userCount)), "timestamp": .string(Timestamp.string(from: Date())),
            ]
            let packet = OutboundPacket(SocketIOPacket.event(
                namespace: SocketIOPacket.defaultNamespace, name: ServerEvent.serverHealth.rawValue,
                arguments: [health], ackID: nil
            ).encode())
            GatewaySession.emit(packet, to: admins.all, droppable: false)
        }
    }
}
