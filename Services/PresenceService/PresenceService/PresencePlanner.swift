import Foundation
import Messages

/// Turns decisions and registry changes into deliveries: plain functions, no I/O.
public enum PresencePlanner {
    /// `presence:updated {userId, status, timestamp}`.
    public static func presenceData(userId: String, status: String, at now: Date) -> JSONValue {
        ["userId": .string(userId), "status": .string(status), "timestamp": .string(Timestamp.string(from: now))]
    }

    /// `presence:updated` to all the user's own sockets (a user in no room).
    public static func presenceUpdated(userId: String, status: String, at now: Date) -> [Delivery] {
        [Delivery.event(ServerEvent.presenceUpdated.rawValue, data: presenceData(userId: userId, status: status, at: now),
                        to: .user(userId))]
    }

    /// `presence:updated` to every presence room the user is in (its own sockets there included) and directly to
    /// the user's sockets in no room. A member who shares several rooms with the user hears it once per room, each
    /// copy naming its `roomId`.
    public static func presenceUpdated(userId: String, status: String, audience: PresenceAudience, at now: Date)
        -> [Delivery]
    {
        let data = presenceData(userId: userId, status: status, at: now)
        guard !audience.rooms.isEmpty else { return presenceUpdated(userId: userId, status: status, at: now) }
        return audience.rooms.map { roomUpdate(data, roomId: $0) }
            + audience.directSockets.map { Delivery.event(
                ServerEvent.presenceUpdated.rawValue, data: data, to: .socket($0.socketId), gatewayId: $0.gatewayId) }
    }

    private static func roomUpdate(_ data: JSONValue, roomId: String) -> Delivery {
        var members = data.objectValue ?? [:]
        members["roomId"] = .string(roomId)
        return Delivery.event(ServerEvent.presenceUpdated.rawValue, data: .object(members), to: .room(Rooms.presence(roomId)))
    }

    /// A socket arrived: `presence:updated online` when its user came online with it.
    public static func arrival(_ arrival: SocketArrival, at now: Date) -> [Outgoing] {
        guard arrival.online else { return [] }
        return presenceUpdated(userId: arrival.userId, status: "online", at: now).map { Outgoing($0, key: arrival.userId) }
    }

    /// A socket is gone: `session:ended` to the user's other sockets for its session; when it was the user's last
    /// socket, `presence:updated offline` to the rooms they were in; `presence:member-left` to each room the user
    /// left with it.
    public static func removal(_ removal: SocketRemoval, at now: Date) -> [Outgoing] {
        var deliveries: [Delivery] = []
        if let session = removal.endedSession, !removal.offline {
            deliveries.append(Delivery.event(
                ServerEvent.sessionEnded.rawValue,
                data: ["sessionId": .string(session), "reason": "disconnected"], to: .user(removal.userId)))
        }
        if removal.offline {
            let data = presenceData(userId: removal.userId, status: "offline", at: now)
            deliveries += removal.leftRooms.map { roomUpdate(data, roomId: $0) }
        }
        deliveries += removal.leftRooms.map { memberLeft(userId: removal.userId, roomId: $0) }
        return deliveries.map { Outgoing($0, key: removal.userId) }
    }

    /// `presence:member-joined {userId, roomId}` to the room.
    public static func memberJoined(userId: String, roomId: String) -> Delivery {
        Delivery.event(ServerEvent.presenceMemberJoined.rawValue,
                       data: ["userId": .string(userId), "roomId": .string(roomId)], to: .room(Rooms.presence(roomId)))
    }

    /// `presence:member-left {userId, roomId}` to the room.
    public static func memberLeft(userId: String, roomId: String) -> Delivery {
        Delivery.event(ServerEvent.presenceMemberLeft.rawValue,
                       data: ["userId": .string(userId), "roomId": .string(roomId)], to: .room(Rooms.presence(roomId)))
    }

    /// An allowed join: the join control to the socket's gateway, `presence:member-joined` to the room when the
    /// user is new in it (the joiner's socket included), then `presence:room-members` to the joiner (and its ack).
    public static func joined(_ outcome: JoinOutcome, roomId: String, userId: String, reply: ReplyAddress, at now: Date)
        -> [Delivery]
    {
        var deliveries: [Delivery] = []
        if outcome.online { deliveries += presenceUpdated(userId: userId, status: "online", at: now) }
        deliveries.append(reply.control(DeliveryControl(action: .join, room: Rooms.presence(roomId))))
        if outcome.newMember { deliveries.append(memberJoined(userId: userId, roomId: roomId)) }
        deliveries.append(reply.event(.presenceRoomMembers, [
            "roomId": .string(roomId), "members": .array(outcome.members.map(JSONValue.string)),
        ]))
        return deliveries
    }

    /// A refused join: `presence:error {message, roomId}`.
    public static func joinRefused(roomId: String, message: String, reply: ReplyAddress) -> [Delivery] {
        [reply.event(.presenceError, ["message": .string(message), "roomId": .string(roomId)])]
    }

    /// A leave: the leave control, `presence:member-left` when the user left the room, and the ack.
    public static func left(roomId: String, userLeft: Bool, userId: String, reply: ReplyAddress) -> [Delivery] {
        var deliveries = [reply.control(DeliveryControl(action: .leave, room: Rooms.presence(roomId)))]
        if userLeft { deliveries.append(memberLeft(userId: userId, roomId: roomId)) }
        if let ack = reply.ack(["roomId": .string(roomId), "left": true]) { deliveries.append(ack) }
        return deliveries
    }

    /// `broadcast:message {type, payload, from, timestamp}` to `target`.
    public static func broadcast(type: String, payload: JSONValue, from: String, to target: DeliveryTarget,
                                 at now: Date) -> Delivery {
        Delivery.event(ServerEvent.broadcastMessage.rawValue, data: [
            "type": .string(type), "payload": payload, "from": .string(from),
            "timestamp": .string(Timestamp.string(from: now)),
        ], to: target)
    }

    /// `broadcast:error {message, reason}` (plus the refused users, for a partly refused `broadcast:to-users`).
    public static func broadcastError(_ refusal: BroadcastRefusal, refusedUsers: [String]? = nil, reply: ReplyAddress)
        -> Delivery
    {
        var data: [String: JSONValue] = ["message": .string(refusal.message), "reason": .string(refusal.rawValue)]
        if let refusedUsers { data["refusedUsers"] = .array(refusedUsers.map(JSONValue.string)) }
        return reply.event(.broadcastError, .object(data))
    }

    /// A `broadcast:to-users`: the message to each allowed user; the ack lists who got it and who did not; any
    /// refused user is reported in `broadcast:error` (which answers the ack instead when nobody was allowed).
    public static func usersBroadcast(_ command: BroadcastToUsers, from sender: String, allowed: [String],
                                      refused: [String], reply: ReplyAddress, at now: Date) -> [Delivery] {
        var deliveries = allowed.map {
            broadcast(type: command.type, payload: command.payload, from: sender, to: .user($0), at: now)
        }
        if allowed.isEmpty {
            deliveries.append(broadcastError(.noSharedRoom, refusedUsers: refused, reply: reply))
            return deliveries
        }
        if !refused.isEmpty {
            var noAck = reply
            noAck.ackId = nil
            deliveries.append(broadcastError(.noSharedRoom, refusedUsers: refused, reply: noAck))
        }
        if let ack = reply.ack([
            "delivered": .array(allowed.map(JSONValue.string)), "refused": .array(refused.map(JSONValue.string)),
        ]) {
            deliveries.append(ack)
        }
        return deliveries
    }

    /// `session:created {session}` to the creator (and its ack), `session:new {session, message}` to the user's
    /// other sockets.
    public static func sessionCreated(_ session: JSONValue, userId: String, reply: ReplyAddress) -> [Delivery] {
        [
            reply.event(.sessionCreated, ["session": session]),
            Delivery.event(ServerEvent.sessionNew.rawValue,
                           data: ["session": session, "message": "New session started"],
                           to: .user(userId, except: reply.socketId)),
        ]
    }

    /// An ended session: `session:ended {sessionId}` to all the user's sockets, the requester's ack, then the
    /// disconnect of the session's socket on its gateway.
    public static func sessionEnded(_ ended: EndedSession, userId: String, reply: ReplyAddress) -> [Delivery] {
        var deliveries = [Delivery.event(ServerEvent.sessionEnded.rawValue,
                                         data: ["sessionId": .string(ended.sessionId), "reason": "ended"],
                                         to: .user(userId))]
        if let ack = reply.ack(["sessionId": .string(ended.sessionId), "ended": true]) { deliveries.append(ack) }
        if let socketId = ended.socketId {
            deliveries.append(Delivery.control(
                DeliveryControl(action: .disconnect, reason: "session ended"), to: .socket(socketId),
                gatewayId: ended.gatewayId))
        }
        return deliveries
    }

    /// `server:health {connections, users, gateways, timestamp}` to the `admin` room.
    public static func health(_ counts: PresenceCounts, at now: Date) -> Delivery {
        Delivery.event(ServerEvent.serverHealth.rawValue, data: [
            "connections": .number(Double(counts.sockets)), "users": .number(Double(counts.users)),
            "gateways": .number(Double(counts.gateways)), "timestamp": .string(Timestamp.string(from: now)),
        ], to: .room(Rooms.admin))
    }
}
