import Foundation
import Messages

/// Valid sample values of every message type and client event, built in Swift.
enum Samples {
    static let gatewaySource = Source(service: "gateway", instance: "gw-1.example")
    static let userPrincipal = Principal(
        userId: "alice", roles: ["USER"], scopes: ["notifications:send"], rooms: ["team-1"], socketId: "Sk-9_aZ",
        gatewayId: "gw-1", sessionId: "sess-1", remoteAddress: "203.0.113.7")
    static let adminPrincipal = Principal(
        userId: "root@example.com", roles: ["ADMIN", "OPS"], scopes: [], socketId: "sock-2", gatewayId: "gw-2",
        remoteAddress: "2001:db8::1")
    static let servicePrincipal = Principal(userId: "billing", roles: ["SERVICE"], scopes: ["notifications:create"])
    static let reply = ReplyTo(gatewayId: "gw-1", socketId: "Sk-9_aZ", ackId: 7)
    static let occurredAt = Date(timeIntervalSince1970: 1_796_119_200.123)
    static let publicKey = PublicKeyJWK(
        x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0")

    /// Client event payloads, at least one per `ClientEvent`.
    static let clientEvents: [any ClientEventPayload] = [
        BiometricSubscribe(recordId: "rec-1"),
        BiometricUnsubscribe(recordId: "rec-1"),
        BiometricChallenge(recordId: repeated("r", MessageLimits.maxIdLength)),
        BiometricVerify(
            recordId: "rec-1", challenge: "q1w2e3r4t5y6u7i8o9p0a1s2d3f4g5h6j7k8l9z0x1c",
            signature: "MEUCIQDx_-" + repeated("A", 86)),
        BiometricStreamStart(deviceId: "dev:1@lab"),
        BiometricStreamStop(deviceId: "dev:1@lab"),
        BiometricStreamData(deviceId: "dev-1"),
        BiometricStreamData(deviceId: "dev-1", frame: BinaryPlaceholder(num: 0)),
        SessionCreate(deviceInfo: "Mozilla/5.0 (X11; Linux x86_64) — “Firefox” 🦊"),
        SessionList(),
        SessionEnd(sessionId: "sess-1"),
        SessionHeartbeat(),
        SessionSync(),
        PresenceUpdate(status: .online),
        PresenceUpdate(status: .away),
        PresenceJoinRoom(roomId: "team-1"),
        PresenceLeaveRoom(roomId: repeated("t", MessageLimits.maxRoomIdLength)),
        BroadcastToUsers(
            targetUsers: ["bob", "carol@example.com"], type: "chat.message", payload: ["text": "hi", "n": 1]),
        BroadcastToUsers(
            targetUsers: (0..<MessageLimits.maxTargetUsers).map { "u\($0)" }, type: "ping", payload: .null),
        BroadcastToRoom(targetRoom: "team-1", type: "poll", payload: [1, "two", ["three": 3.5], .null, true]),
        BroadcastAdmin(type: "maintenance", payload: "at 22:00 UTC"),
        NotificationGetUnread(),
        NotificationGetUnread(limit: 100, before: "notif-42"),
        NotificationMarkRead(notificationId: "notif-42"),
        NotificationMarkAllRead(),
        NotificationSubscribe(categories: ["general", "security.alerts"]),
        NotificationSend(targetUserId: "bob", type: "reminder", title: "Check in", body: ""),
        NotificationSend(
            targetUserId: "bob", type: "alert", title: "Verification failed", body: "Someone tried to verify.",
            data: ["recordId": "rec-1", "attempts": 3], category: "security"),
    ]

    /// Server message payloads, at least one per non-client `MessagePayload` type.
    static let serverMessages: [any MessagePayload] = [
        NotificationCreate(
            targetUserId: "bob", type: "invoice", title: "Invoice ready", body: "Your invoice is ready.",
            data: ["invoiceId": "inv-9"], category: "billing"),
        ConnectionConnected(
            gatewayId: "gw-1", socketId: "Sk-9_aZ", userId: "alice", remoteAddress: "203.0.113.7",
            connectedAt: occurredAt),
        ConnectionConnected(
            gatewayId: "gw-1", socketId: "Sk-9_aZ", userId: "alice", sessionId: "sess-1", remoteAddress: "fe80::1%eth0",
            connectedAt: occurredAt),
        ConnectionDisconnected(gatewayId: "gw-1", socketId: "Sk-9_aZ", userId: "alice", reason: "transport close"),
        ConnectionRooms(gatewayId: "gw-1", socketId: "Sk-9_aZ", userId: "alice", rooms: ["room:team-1", "stream:dev-1"],
                        streams: ["dev-1"], disconnected: false),
        GatewayLiveness(gatewayId: "gw-1", intervalSeconds: 10, socketCount: 0),
        GatewayLiveness(
            gatewayId: "gw-1", intervalSeconds: 10, socketCount: 2,
            sockets: [LivenessSocket(socketId: "s1", userId: "alice"), LivenessSocket(socketId: "s2", userId: "bob")]),
        Delivery.event(
            "biometric:verification-result",
            data: [
                "recordId": "rec-1", "success": true, "confidence": 1, "reason": "ok",
                "timestamp": "2026-11-29T10:00:00.123Z",
            ],
            to: .socket("Sk-9_aZ"), ackId: 7, gatewayId: "gw-1"),
        Delivery.event("session:new", data: ["message": "New session started"], to: .user("alice", except: "Sk-9_aZ")),
        Delivery.event("broadcast:message", data: ["from": "admin"], to: .all()),
        Delivery.event("server:health", data: .null, to: .room(Rooms.admin)),
        Delivery.control(DeliveryControl(action: .join, room: Rooms.biometric("rec-1")), to: .socket("Sk-9_aZ")),
        Delivery.control(DeliveryControl(action: .leave, room: Rooms.presence("team-1")), to: .user("alice")),
        Delivery.control(DeliveryControl(action: .disconnect, reason: "session ended"), to: .user("alice")),
        Delivery.control(DeliveryControl(action: .grantStream, deviceId: "dev-1"), to: .socket("Sk-9_aZ")),
        Delivery.control(DeliveryControl(action: .revokeStream, deviceId: "dev-1"), to: .socket("Sk-9_aZ")),
        Delivery.control(DeliveryControl(action: .ack, ackId: 0, data: ["ok": true]), to: .socket("Sk-9_aZ")),
        Delivery.control(DeliveryControl(action: .ack, ackId: 8), to: .socket("Sk-9_aZ")),
        BiometricRecord(
            recordId: "rec-1", ownerUserId: "alice", deviceIds: ["dev-1"], publicKey: publicKey, status: .active,
            grantedRoles: ["DOCTOR"]),
        BiometricRecord(
            recordId: "rec-2", ownerUserId: "bob", deviceIds: [], publicKey: publicKey, status: .revoked,
            grantedRoles: []),
        BiometricVerification(
            recordId: "rec-1", userId: "alice", success: true, reason: "ok", confidence: 1, latencyMs: 0.42,
            gatewayId: "gw-1", socketId: "Sk-9_aZ"),
        BiometricVerification(
            recordId: "rec-1", userId: "mallory", success: false, reason: "bad_signature", confidence: 0, latencyMs: 3),
        ServiceMetrics(
            service: "verification-worker", instance: "vw-1", intervalSeconds: 15,
            text: "# TYPE messaging_process_duration histogram\nmessaging_process_duration_count 3\n"),
        DeadLetter(
            originalTopic: Topics.presenceCommands, partition: 3, offset: 1_234_567_890_123, key: Data("alice".utf8),
            headers: ["traceparent": "00-abc-def-01"], value: Data("{\"not\":\"valid\"}".utf8),
            error: "unknown_field: payload.ipAddress: is not allowed", service: "presence-service", instance: "ps-1",
            failedAt: occurredAt),
        DeadLetter.bounded(
            originalTopic: Topics.biometricFrames, partition: 0, offset: 0, key: nil, headers: [:],
            value: Data(repeating: 0xFF, count: MessageLimits.maxDeadLetterValueBytes + 10), error: "",
            service: "gateway", instance: "gw-1", failedAt: occurredAt),
    ]

    /// Every envelope payload sample: client commands and server messages.
    static var allPayloads: [any MessagePayload] {
        clientEvents.compactMap { $0 as? any MessagePayload } + serverMessages
    }

    /// Frame header samples.
    static let frameHeaders = [
        FrameHeaders(deviceId: "dev-1", userId: "alice", gatewayId: "gw-1", timestamp: occurredAt)
    ]

    /// The principal an envelope of `P` carries in the samples.
    static func principal<P: MessagePayload>(for type: P.Type) -> Principal? {
        switch P.principalRule {
        case .gatewaySocket: P.self == BroadcastAdmin.self ? adminPrincipal : userPrincipal
        case .required: servicePrincipal
        case .optional: nil
        }
    }
}
