import Foundation
import Logging
import Messages
import Metrics
import Runtime

/// Decides every `presence.commands` command (presence, rooms, sessions, broadcasts) and answers it through
/// `gateway.deliveries`, at least once and idempotently by envelope id (see ``DeliveryDispatcher``).
public struct CommandHandler: Sendable {
    private let store: PresenceStore
    private let dispatcher: DeliveryDispatcher
    private let broadcastMaxPayloadBytes: Int
    private let logger: Logger

    /// Creates the handler.
    public init(store: PresenceStore, dispatcher: DeliveryDispatcher, broadcastMaxPayloadBytes: Int, logger: Logger) {
        self.store = store
        self.dispatcher = dispatcher
        self.broadcastMaxPayloadBytes = broadcastMaxPayloadBytes
        self.logger = logger
    }

    /// Handles one command; throwing sends it to the dead-letter topic.
    public func handle(_ message: DecodedMessage) async throws {
        guard let principal = message.header.principal,
              let socketId = principal.socketId ?? message.header.reply?.socketId,
              let gatewayId = principal.gatewayId ?? message.header.reply?.gatewayId
        else {
            throw PresenceServiceError(.missingPrincipal, "\(message.type) without a principal socket and gateway")
        }
        let socket = SocketRef(socketId: socketId, userId: principal.userId, gatewayId: gatewayId,
                               sentAt: message.header.occurredAt)
        let reply = ReplyAddress(socketId: socketId, gatewayId: gatewayId, ackId: message.header.reply?.ackId)
        let id = message.header.id
        try await dispatcher.process(id) {
            try await decide(message, principal: principal, socket: socket, reply: reply)
                .map { Outgoing($0, key: principal.userId) }
        }
    }

    func decide(_ message: DecodedMessage, principal: Principal, socket: SocketRef, reply: ReplyAddress)
        async throws -> [Delivery]
    {
        let id = message.header.id
        let now = Date()
        let user = principal.userId
        switch message.payload {
        case let command as PresenceUpdate:
            guard let audience = try await store.setStatus(command.status, socket: socket, id: id, now: now) else {
                return [reply.event(.presenceError, ["message": .string(Self.closedMessage)])]
            }
            var deliveries = PresencePlanner.presenceUpdated(
                userId: user, status: command.status.rawValue, audience: audience, at: now)
            if let ack = reply.ack(PresencePlanner.presenceData(userId: user, status: command.status.rawValue, at: now)) {
                deliveries.append(ack)
            }
            return deliveries

        case let command as PresenceJoinRoom:
            guard PresencePolicy.mayJoin(command.roomId, principal: principal) else {
                Counter(label: "presence_room_joins_total", dimensions: [("outcome", "refused")]).increment()
                logger.info("room join refused", metadata: ["enduser.id": "\(user)", "presence.room": "\(command.roomId)"])
                return PresencePlanner.joinRefused(
                    roomId: command.roomId, message: "not allowed to join this room", reply: reply)
            }
            let outcome = try await store.join(command.roomId, socket: socket, id: id, now: now)
            guard !outcome.closed else {
                return PresencePlanner.joinRefused(roomId: command.roomId, message: Self.closedMessage, reply: reply)
            }
            Counter(label: "presence_room_joins_total", dimensions: [("outcome", "joined")]).increment()
            return PresencePlanner.joined(outcome, roomId: command.roomId, userId: user, reply: reply, at: now)

        case let command as PresenceLeaveRoom:
            let left = try await store.leave(command.roomId, socket: socket, id: id, now: now)
            return PresencePlanner.left(roomId: command.roomId, userLeft: left, userId: user, reply: reply)

        case let command as SessionCreate:
            let address = principal.remoteAddress ?? "unknown"
            switch try await store.createSession(
                socket: socket, deviceInfo: command.deviceInfo, ipAddress: address, id: id, now: now) {
            case .created(let session, let online):
                Counter(label: "presence_sessions_created_total").increment()
                let presence = online ? PresencePlanner.presenceUpdated(userId: user, status: "online", at: now) : []
                return presence + PresencePlanner.sessionCreated(session, userId: user, reply: reply)
            case .existing(let sessionId):
                return [reply.event(.sessionError, [
                    "message": "this connection already has a session", "sessionId": .string(sessionId),
                ])]
            case .closed:
                return [reply.event(.sessionError, ["message": .string(Self.closedMessage)])]
            }

        case is SessionList, is SessionSync:
            let sessions = try await store.sessions(userId: user, now: now)
            let name: ServerEvent = message.payload is SessionList ? .sessionListResult : .sessionSyncResult
            return [reply.event(name, ["sessions": .array(sessions)])]

        case let command as SessionEnd:
            guard let ended = try await store.endSession(command.sessionId, userId: user, id: id, now: now) else {
                return [reply.event(.sessionError, ["message": "unknown session", "sessionId": .string(command.sessionId)])]
            }
            Counter(label: "presence_sessions_ended_total", dimensions: [("reason", "ended")]).increment()
            return PresencePlanner.sessionEnded(ended, userId: user, reply: reply)

        case is SessionHeartbeat:
            let beat = try await store.heartbeat(socket: socket, id: id, now: now)
            let data: JSONValue = beat.map { ["sessionId": .string($0.sessionId), "lastSeenAt": .string($0.lastSeenAt)] }
                ?? ["sessionId": .null]
            return reply.ack(data).map { [$0] } ?? []

        case let command as BroadcastToRoom:
            let isMember = PresencePolicy.isPresenceRoomId(command.targetRoom)
                ? try await store.isMember(command.targetRoom, userId: user) : false
            if let refusal = PresencePolicy.roomBroadcastRefusal(
                targetRoom: command.targetRoom, senderIsMember: isMember, payload: command.payload,
                maxBytes: broadcastMaxPayloadBytes) {
                return refused(refusal, kind: "room", reply: reply)
            }
            accepted("room")
            var deliveries = [PresencePlanner.broadcast(
                type: command.type, payload: command.payload, from: user,
                to: .room(Rooms.presence(command.targetRoom)), at: now)]
            if let ack = reply.ack(["delivered": true, "targetRoom": .string(command.targetRoom)]) { deliveries.append(ack) }
            return deliveries

        case let command as BroadcastToUsers:
            if let refusal = PresencePolicy.payloadRefusal(command.payload, maxBytes: broadcastMaxPayloadBytes) {
                return refused(refusal, kind: "users", reply: reply)
            }
            var seen = Set<String>()
            let targets = command.targetUsers.filter { seen.insert($0).inserted }
            let split = try await store.shareRooms(
                sender: user, targets: targets, anyone: principal.hasRole(PresencePolicy.adminRole))
            if split.allowed.isEmpty {
                Counter(label: "presence_broadcasts_total", dimensions: [
                    ("kind", "users"), ("outcome", "refused"), ("reason", BroadcastRefusal.noSharedRoom.rawValue),
                ]).increment()
            } else {
                accepted("users")
            }
            return PresencePlanner.usersBroadcast(
                command, from: user, allowed: split.allowed, refused: split.refused, reply: reply, at: now)

        case let command as BroadcastAdmin:
            if let refusal = PresencePolicy.adminBroadcastRefusal(
                principal: principal, payload: command.payload, maxBytes: broadcastMaxPayloadBytes) {
                return refused(refusal, kind: "admin", reply: reply)
            }
            accepted("admin")
            var deliveries = [PresencePlanner.broadcast(
                type: command.type, payload: command.payload, from: "admin", to: .all(), at: now)]
            if let ack = reply.ack(["delivered": true]) { deliveries.append(ack) }
            return deliveries

        default:
            throw PresenceServiceError(.unexpectedMessage, "\(message.type) is not a presence command")
        }
    }

    /// The answer to a command from a socket the registry counts as closed: a gateway that still holds it (the
    /// registry lost track) shows the client, one that does not drops it.
    static let closedMessage = "this connection is closed; reconnect"

    private func accepted(_ kind: String) {
        Counter(label: "presence_broadcasts_total", dimensions: [("kind", kind), ("outcome", "accepted"), ("reason", "ok")])
            .increment()
    }

    private func refused(_ refusal: BroadcastRefusal, kind: String, reply: ReplyAddress) -> [Delivery] {
        Counter(label: "presence_broadcasts_total", dimensions: [
            ("kind", kind), ("outcome", "refused"), ("reason", refusal.rawValue),
        ]).increment()
        return [PresencePlanner.broadcastError(refusal, reply: reply)]
    }
}
