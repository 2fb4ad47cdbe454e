import Foundation
import Messages

/// An instance that both the schema and the Swift decoder must reject, with the Swift error code expected.
struct Rejection: Sendable {
    let label: String
    let schema: String
    let instance: JSONValue
    let code: MessageError.Code
    let field: String?
    let decode: @Sendable (Data) throws(MessageError) -> Void

    /// A client event payload, decoded as the gateway does.
    static func event(
        _ event: ClientEvent, _ label: String, _ instance: JSONValue, _ code: MessageError.Code, field: String? = nil
    ) -> Rejection {
        Rejection(
            label: "\(event.rawValue): \(label)", schema: event.schema, instance: instance, code: code, field: field
        ) { data throws(MessageError) in _ = try event.decodePayload(from: data) }
    }

    /// A server message payload.
    static func message<P: MessagePayload>(
        _ type: P.Type, _ label: String, _ instance: JSONValue, _ code: MessageError.Code, field: String? = nil
    ) -> Rejection {
        Rejection(label: "\(P.messageType): \(label)", schema: P.schema, instance: instance, code: code, field: field) {
            data throws(MessageError) in _ = try MessageCoding.decode(P.self, from: data)
        }
    }

    /// Frame headers.
    static func frameHeaders(_ label: String, _ instance: JSONValue, _ code: MessageError.Code, field: String? = nil)
        -> Rejection
    {
        Rejection(
            label: "frame-headers: \(label)", schema: FrameHeaders.schema, instance: instance, code: code, field: field
        ) {
            data throws(MessageError) in _ = try MessageCoding.decode(FrameHeaders.self, from: data)
        }
    }

    /// A bare envelope (RawEnvelope) against envelope.schema.json.
    static func envelope(_ label: String, _ instance: JSONValue, _ code: MessageError.Code, field: String? = nil)
        -> Rejection
    {
        Rejection(
            label: "envelope: \(label)", schema: "envelope.schema.json", instance: instance, code: code, field: field
        ) {
            data throws(MessageError) in _ = try MessageCoding.decode(RawEnvelope.self, from: data)
        }
    }

    /// A whole envelope read from a topic.
    static func topic(
        _ topic: String, _ label: String, _ instance: JSONValue, _ code: MessageError.Code, field: String? = nil
    ) -> Rejection {
        Rejection(
            label: "\(topic): \(label)", schema: Topics.spec(named: topic)!.schema, instance: instance, code: code,
            field: field
        ) { data throws(MessageError) in _ = try MessageCoding.decodeMessage(from: data, topic: topic) }
    }
}

/// An instance at an edge that both the schema and the Swift decoder must accept.
struct Acceptance: Sendable {
    let label: String
    let schema: String
    let instance: JSONValue
    let decode: @Sendable (Data) throws(MessageError) -> Void

    static func event(_ event: ClientEvent, _ label: String, _ instance: JSONValue) -> Acceptance {
        Acceptance(label: "\(event.rawValue): \(label)", schema: event.schema, instance: instance) {
            data throws(MessageError) in _ = try event.decodePayload(from: data)
        }
    }

    static func message<P: MessagePayload>(_ type: P.Type, _ label: String, _ instance: JSONValue) -> Acceptance {
        Acceptance(label: "\(P.messageType): \(label)", schema: P.schema, instance: instance) {
            data throws(MessageError) in _ = try MessageCoding.decode(P.self, from: data)
        }
    }

    static func topic(_ topic: String, _ label: String, _ instance: JSONValue) -> Acceptance {
        Acceptance(label: "\(topic): \(label)", schema: Topics.spec(named: topic)!.schema, instance: instance) {
            data throws(MessageError) in _ = try MessageCoding.decodeMessage(from: data, topic: topic)
        }
    }
}

/// The Direction 2 tables.
enum ContractCases {
    static let verify: JSONValue = ["recordId": "rec-1", "challenge": "q1w2e3", "signature": "MEUCIQ"]
    static let broadcast: JSONValue = ["targetUsers": ["bob"], "type": "chat", "payload": ["text": "hi"]]
    static let send: JSONValue = ["targetUserId": "bob", "type": "reminder", "title": "Hi", "body": "Body"]
    static let delivery: JSONValue = ["target": ["kind": "socket", "id": "s1"], "event": ["name": "x:y", "data": 1]]
    static let control: JSONValue = [
        "target": ["kind": "socket", "id": "s1"], "control": ["action": "join", "room": "room:a"],
    ]
    static let record: JSONValue = [
        "recordId": "rec-1", "ownerUserId": "alice", "deviceIds": ["dev-1"], "algorithm": "ES256",
        "publicKey": [
            "kty": "EC", "crv": "P-256", "x": .string(Samples.publicKey.x), "y": .string(Samples.publicKey.y),
        ],
        "status": "active", "grantedRoles": [],
    ]
    static let verification: JSONValue = [
        "recordId": "rec-1", "userId": "alice", "success": false, "reason": "bad_signature", "confidence": 0,
        "latencyMs": 1.5,
    ]
    static let metrics: JSONValue = [
        "service": "gateway", "instance": "gw-1", "intervalSeconds": 15, "format": "prometheus-text-0.0.4", "text": "",
    ]
    static let deadLetter: JSONValue = [
        "originalTopic": "presence.commands", "partition": 0, "offset": 5, "headers": [:], "value": "e30=",
        "error": "invalid_json", "service": "presence-service", "instance": "ps-1",
        "failedAt": "2026-11-29T10:00:00.123Z",
    ]
    static let connected: JSONValue = [
        "gatewayId": "gw-1", "socketId": "s1", "userId": "alice", "remoteAddress": "127.0.0.1",
        "connectedAt": "2026-11-29T10:00:00.123Z",
    ]
    static let headers: JSONValue = [
        "device-id": "dev-1", "user-id": "alice", "gateway-id": "gw-1", "timestamp": "2026-11-29T10:00:00.123Z",
    ]

    /// A valid presence.commands envelope (`presence:join-room {roomId: team-1}`).
    static let presenceEnvelope: JSONValue = {
        let data = try! PresenceJoinRoom(roomId: "team-1").encodedEnvelope(
            id: UUID(uuidString: "0B0C8A6E-4B1E-4A57-9D1E-8D0F6C1E2A3B")!, occurredAt: Samples.occurredAt,
            source: Samples.gatewaySource, principal: Samples.userPrincipal, reply: Samples.reply)
        return try! MessageCoding.decode(JSONValue.self, from: data)
    }()

    static let rejections: [Rejection] = [
        // Client events: required fields, types, unknown fields, bounds, patterns, enums.
        .event(.biometricVerify, "missing signature", verify.with("signature", nil), .missingField, field: "signature"),
        .event(
            .biometricVerify, "signature is a number", verify.with("signature", 5), .invalidValue, field: "signature"),
        .event(
            .biometricVerify, "smuggled principal", verify.with("principal", ["userId": "root"]), .unknownField,
            field: "principal"),
        .event(.biometricVerify, "challenge not base64url", verify.with("challenge", "abc$def"), .invalidValue),
        .event(
            .biometricVerify, "signature too long", verify.with("signature", .string(repeated("A", 257))), .tooLarge),
        .event(
            .biometricSubscribe, "recordId too long", ["recordId": .string(repeated("r", 129))], .tooLarge,
            field: "recordId"),
        .event(.biometricSubscribe, "recordId empty", ["recordId": ""], .invalidValue),
        .event(.biometricSubscribe, "recordId with a space", ["recordId": "a b"], .invalidValue),
        .event(.biometricSubscribe, "recordId null", ["recordId": .null], .invalidValue),
        .event(.biometricSubscribe, "payload is an array", ["rec-1"], .invalidValue),
        .event(.biometricChallenge, "recordId not ASCII", ["recordId": "récord"], .invalidValue),
        .event(.biometricStreamStart, "deviceId with a slash", ["deviceId": "dev/1"], .invalidValue),
        .event(
            .biometricStreamData, "placeholder false", ["deviceId": "d", "frame": ["_placeholder": false, "num": 0]],
            .invalidValue),
        .event(.biometricStreamData, "frame inlined as base64", ["deviceId": "d", "frame": "AAEC"], .invalidValue),
        .event(
            .biometricStreamData, "placeholder with extra member",
            ["deviceId": "d", "frame": ["_placeholder": true, "num": 0, "x": 1]], .unknownField, field: "frame.x"),
        .event(.sessionCreate, "missing deviceInfo", [:], .missingField, field: "deviceInfo"),
        .event(.sessionCreate, "deviceInfo too long", ["deviceInfo": .string(repeated("d", 513))], .tooLarge),
        .event(
            .sessionCreate, "ipAddress not a string", ["deviceInfo": "x", "ipAddress": 1], .invalidValue,
            field: "ipAddress"),
        .event(
            .sessionCreate, "ipAddress too long", ["deviceInfo": "x", "ipAddress": .string(repeated("1", 65))],
            .tooLarge),
        .event(
            .sessionCreate, "smuggled userId", ["deviceInfo": "x", "userId": "bob"], .unknownField, field: "userId"),
        .event(.sessionList, "unexpected member", ["x": 1], .unknownField, field: "x"),
        .event(.sessionHeartbeat, "smuggled reply", ["reply": ["ackId": 1]], .unknownField),
        .event(.sessionEnd, "sessionId is a number", ["sessionId": 5], .invalidValue, field: "sessionId"),
        .event(.presenceUpdate, "status offline", ["status": "offline"], .invalidValue, field: "status"),
        .event(.presenceUpdate, "missing status", [:], .missingField),
        .event(.presenceJoinRoom, "user: room", ["roomId": "user:bob"], .invalidValue, field: "roomId"),
        .event(.presenceLeaveRoom, "roomId too long", ["roomId": .string(repeated("t", 65))], .tooLarge),
        .event(.broadcastToUsers, "no target users", broadcast.with("targetUsers", []), .invalidValue),
        .event(
            .broadcastToUsers, "too many target users",
            broadcast.with("targetUsers", .array((0...100).map { .string("u\($0)") })), .tooLarge,
            field: "targetUsers"),
        .event(
            .broadcastToUsers, "bad user id", broadcast.with("targetUsers", ["ok", "bad user"]), .invalidValue,
            field: "targetUsers[1]"),
        .event(.broadcastToUsers, "missing payload", broadcast.with("payload", nil), .missingField),
        .event(
            .broadcastToUsers, "payload with 65 members",
            broadcast.with("payload", .object(members(65))),
            .tooLarge, field: "payload"),
        .event(
            .broadcastToRoom, "stream: room", ["targetRoom": "stream:dev1", "type": "t", "payload": 1], .invalidValue),
        .event(
            .broadcastAdmin, "type with a space", ["type": "has space", "payload": 1], .invalidValue, field: "type"),
        .event(
            .broadcastAdmin, "payload string too long",
            ["type": "t", "payload": .string(repeated("p", MessageLimits.maxFreeformStringLength + 1))], .tooLarge),
        .event(.notificationGetUnread, "limit 0", ["limit": 0], .invalidValue, field: "limit"),
        .event(.notificationGetUnread, "limit 101", ["limit": 101], .invalidValue),
        .event(.notificationGetUnread, "limit is a string", ["limit": "10"], .invalidValue),
        .event(.notificationGetUnread, "limit null", ["limit": .null], .invalidValue, field: "limit"),
        .event(.notificationGetUnread, "limit fractional", ["limit": 2.5], .invalidValue),
        .event(.notificationMarkRead, "missing notificationId", [:], .missingField),
        .event(.notificationMarkAllRead, "unexpected member", ["all": true], .unknownField),
        .event(.notificationSubscribe, "no categories", ["categories": []], .invalidValue),
        .event(
            .notificationSubscribe, "33 categories", ["categories": .array((0..<33).map { .string("c\($0)") })],
            .tooLarge),
        .event(
            .notificationSubscribe, "category with a colon", ["categories": ["a:b"]], .invalidValue,
            field: "categories[0]"),
        .event(.notificationSubscribe, "categories not an array", ["categories": "general"], .invalidValue),
        .event(.notificationSend, "empty title", send.with("title", ""), .invalidValue, field: "title"),
        .event(.notificationSend, "title too long", send.with("title", .string(repeated("t", 201))), .tooLarge),
        .event(.notificationSend, "body too long", send.with("body", .string(repeated("b", 4001))), .tooLarge),
        .event(.notificationSend, "data is an array", send.with("data", [1]), .invalidValue, field: "data"),
        .event(.notificationSend, "category with a colon", send.with("category", "x:y"), .invalidValue),
        .event(.notificationSend, "smuggled ipAddress", send.with("ipAddress", "1.2.3.4"), .unknownField),
        .event(.notificationSend, "missing targetUserId", send.with("targetUserId", nil), .missingField),

        // Server messages.
        .message(Delivery.self, "event and control", delivery.with("control", ["action": "disconnect"]), .invalidValue),
        .message(Delivery.self, "neither event nor control", delivery.with("event", nil), .missingField),
        .message(
            Delivery.self, "unknown target kind", delivery.with(["target", "kind"], "everyone"), .invalidValue,
            field: "target.kind"),
        .message(
            Delivery.self, "socket target without id", delivery.with(["target", "id"], nil), .missingField,
            field: "target.id"),
        .message(Delivery.self, "all target with id", delivery.with(["target", "kind"], "all"), .invalidValue),
        .message(
            Delivery.self, "socket id too long", delivery.with(["target", "id"], .string(repeated("s", 129))),
            .tooLarge),
        .message(
            Delivery.self, "join without room", control.with(["control", "room"], nil), .missingField,
            field: "control.room"),
        .message(
            Delivery.self, "grant-stream without deviceId", control.with(["control", "action"], "grant-stream"),
            .missingField),
        .message(Delivery.self, "ack without ackId", control.with(["control", "action"], "ack"), .missingField),
        .message(Delivery.self, "unknown action", control.with(["control", "action"], "kick"), .invalidValue),
        .message(
            Delivery.self, "event name starts with a digit", delivery.with(["event", "name"], "1bad"),
            .invalidValue),
        .message(Delivery.self, "negative ackId", delivery.with(["event", "ackId"], -1), .invalidValue),
        .message(Delivery.self, "event without data", delivery.with(["event", "data"], nil), .missingField),
        .message(BiometricRecord.self, "algorithm RS256", record.with("algorithm", "RS256"), .invalidValue),
        .message(
            BiometricRecord.self, "curve P-384", record.with(["publicKey", "crv"], "P-384"), .invalidValue,
            field: "publicKey.crv"),
        .message(BiometricRecord.self, "short x", record.with(["publicKey", "x"], "AAAA"), .invalidValue),
        .message(
            BiometricRecord.self, "private key d", record.with(["publicKey", "d"], "secret"), .unknownField,
            field: "publicKey.d"),
        .message(BiometricRecord.self, "status deleted", record.with("status", "deleted"), .invalidValue),
        .message(BiometricRecord.self, "missing grantedRoles", record.with("grantedRoles", nil), .missingField),
        .message(
            BiometricRecord.self, "65 devices",
            record.with("deviceIds", .array((0..<65).map { .string("d\($0)") })), .tooLarge),
        .message(BiometricVerification.self, "confidence 1.5", verification.with("confidence", 1.5), .invalidValue),
        .message(
            BiometricVerification.self, "carries the signature", verification.with("signature", "MEUC"),
            .unknownField),
        .message(
            BiometricVerification.self, "reason not a code", verification.with("reason", "Bad Sig"),
            .invalidValue),
        .message(BiometricVerification.self, "negative latency", verification.with("latencyMs", -1), .invalidValue),
        .message(ServiceMetrics.self, "format openmetrics", metrics.with("format", "openmetrics"), .invalidValue),
        .message(ServiceMetrics.self, "interval 0", metrics.with("intervalSeconds", 0), .invalidValue),
        .message(ServiceMetrics.self, "service upper-case", metrics.with("service", "Gateway"), .invalidValue),
        .message(DeadLetter.self, "value not base64", deadLetter.with("value", "abc"), .invalidValue, field: "value"),
        .message(DeadLetter.self, "negative partition", deadLetter.with("partition", -1), .invalidValue),
        .message(DeadLetter.self, "header value a number", deadLetter.with("headers", ["h": 1]), .invalidValue),
        .message(
            DeadLetter.self, "failedAt without ms", deadLetter.with("failedAt", "2026-11-29T10:00:00Z"),
            .invalidValue),
        .message(DeadLetter.self, "topic with a slash", deadLetter.with("originalTopic", "a/b"), .invalidValue),
        .message(
            ConnectionConnected.self, "connectedAt with an offset",
            connected.with("connectedAt", "2026-11-29T10:00:00.123+01:00"), .invalidValue),
        .message(
            ConnectionConnected.self, "remoteAddress with a space", connected.with("remoteAddress", "1.2.3.4 x"),
            .invalidValue),
        .message(
            ConnectionConnected.self, "missing remoteAddress", connected.with("remoteAddress", nil),
            .missingField),
        .message(
            ConnectionDisconnected.self, "empty reason",
            ["gatewayId": "gw-1", "socketId": "s1", "userId": "u", "reason": ""], .invalidValue),
        .message(
            GatewayLiveness.self, "negative socketCount",
            ["gatewayId": "gw-1", "intervalSeconds": 10, "socketCount": -1], .invalidValue),
        .message(
            GatewayLiveness.self, "socket without user",
            ["gatewayId": "gw-1", "intervalSeconds": 10, "socketCount": 1, "sockets": [["socketId": "s1"]]],
            .missingField, field: "sockets[0].userId"),
        .message(
            GatewayLiveness.self, "interval above an hour",
            ["gatewayId": "gw-1", "intervalSeconds": 3601, "socketCount": 0], .invalidValue),
        .message(NotificationCreate.self, "missing body", send.with("body", nil), .missingField),
        .frameHeaders("missing user-id", headers.with("user-id", nil), .missingField, field: "user-id"),
        .frameHeaders("extra header", headers.with("x-extra", "1"), .unknownField),
        .frameHeaders("timestamp as epoch", headers.with("timestamp", "1764410400123"), .invalidValue),

        // Envelopes.
        .envelope(
            "bad uuid", presenceEnvelope.with("id", "0b0c8a6e-4b1e-4a57-9d1e-8d0f6c1e2a3"), .invalidValue,
            field: "id"),
        .envelope("month 13", presenceEnvelope.with("occurredAt", "2026-13-01T00:00:00.000Z"), .invalidValue),
        .envelope("February 30", presenceEnvelope.with("occurredAt", "2026-02-30T00:00:00.000Z"), .invalidValue),
        .envelope(
            "offset timestamp", presenceEnvelope.with("occurredAt", "2026-11-29T10:00:00.123+00:00"),
            .invalidValue),
        .envelope("version 0", presenceEnvelope.with("version", 0), .invalidValue, field: "version"),
        .envelope("unknown field", presenceEnvelope.with("ipAddress", "1.2.3.4"), .unknownField, field: "ipAddress"),
        .envelope("missing payload", presenceEnvelope.with("payload", nil), .missingField),
        .envelope("missing source", presenceEnvelope.with("source", nil), .missingField),
        .envelope(
            "service upper-case", presenceEnvelope.with(["source", "service"], "Gateway"), .invalidValue,
            field: "source.service"),
        .envelope(
            "33 roles", presenceEnvelope.with(["principal", "roles"], .array((0..<33).map { .string("R\($0)") })),
            .tooLarge, field: "principal.roles"),
        .envelope(
            "principal unknown field", presenceEnvelope.with(["principal", "admin"], true), .unknownField,
            field: "principal.admin"),
        .envelope(
            "principal room with a colon", presenceEnvelope.with(["principal", "rooms"], ["user:x"]),
            .invalidValue),
        .envelope("reply ackId a string", presenceEnvelope.with(["reply", "ackId"], "1"), .invalidValue),
        .envelope("type not namespaced", presenceEnvelope.with("type", "JOIN"), .invalidValue, field: "type"),

        // Topics: type allowed on the topic, principal rules, payload schema by type.
        .topic(
            Topics.presenceCommands, "biometric command", presenceEnvelope.with("type", "biometric:verify"),
            .unknownType, field: "type"),
        .topic(
            Topics.verificationCommands, "stream-data is no command",
            presenceEnvelope.with("type", "biometric:stream-data").with("payload", ["deviceId": "d"]), .unknownType),
        .topic(Topics.gatewayDeliveries, "unknown type", presenceEnvelope.with("type", "foo:bar"), .unknownType),
        .topic(
            Topics.presenceCommands, "no principal", presenceEnvelope.with("principal", nil), .missingField,
            field: "principal"),
        .topic(
            Topics.presenceCommands, "principal without socket", presenceEnvelope.with(["principal", "socketId"], nil),
            .missingField, field: "principal.socketId"),
        .topic(
            Topics.notificationCommands, "create without principal",
            presenceEnvelope.with("type", "notification:create").with("payload", send).with("principal", nil),
            .missingField),
        .topic(
            Topics.presenceCommands, "user: room in payload", presenceEnvelope.with(["payload", "roomId"], "user:bob"),
            .invalidValue, field: "payload.roomId"),
        .topic(
            Topics.presenceCommands, "payload of another type",
            presenceEnvelope.with("type", "session:end"), .unknownField, field: "payload.roomId"),
        .topic(
            Topics.presenceCommands, "payload missing its field",
            presenceEnvelope.with("type", "session:end").with("payload", [:]), .missingField,
            field: "payload.sessionId"),
    ]

    static let acceptances: [Acceptance] = [
        .event(.sessionList, "empty object", [:]),
        .event(.notificationMarkAllRead, "empty object", [:]),
        .event(.notificationGetUnread, "empty object", [:]),
        .event(.notificationGetUnread, "limit 100 and cursor", ["limit": 100, "before": "n-1"]),
        .event(.sessionCreate, "ignored ipAddress", ["deviceInfo": "x", "ipAddress": "10.0.0.1"]),
        .event(.biometricSubscribe, "recordId of 128", ["recordId": .string(repeated("r", 128))]),
        .event(.biometricSubscribe, "recordId with : and @", ["recordId": "tenant:rec@1"]),
        .event(.presenceJoinRoom, "roomId of 64", ["roomId": .string(repeated("t", 64))]),
        .event(.biometricVerify, "padded signature", verify.with("signature", "MEUCIQ==")),
        .event(
            .biometricStreamData, "with placeholder", ["deviceId": "d", "frame": ["_placeholder": true, "num": 1]]),
        .event(.broadcastToUsers, "null payload", broadcast.with("payload", JSONValue.null)),
        .event(
            .broadcastToUsers, "nested payload beyond the top-level bounds",
            broadcast.with("payload", ["deep": .object(members(100))])),
        .event(
            .broadcastAdmin, "payload of 64 members",
            ["type": "t", "payload": .object(members(64))]),
        .event(.notificationSend, "empty body, no category", send.with("body", "")),
        .event(.notificationSend, "title of 200 Unicode scalars", send.with("title", .string(repeated("é", 200)))),
        .message(
            Delivery.self, "all target without id",
            delivery.with(["target", "kind"], "all").with(["target", "id"], nil)),
        .message(
            Delivery.self, "ack with null data",
            control.with(["control", "action"], "ack").with(["control", "ackId"], 3).with(
                ["control", "data"], JSONValue.null)),
        .message(Delivery.self, "event data null", delivery.with(["event", "data"], JSONValue.null)),
        .message(BiometricRecord.self, "no devices", record.with("deviceIds", [])),
        .message(DeadLetter.self, "empty value", deadLetter.with("value", "")),
        .message(
            GatewayLiveness.self, "empty socket list",
            ["gatewayId": "gw-1", "intervalSeconds": 1, "socketCount": 0, "sockets": []]),
        .message(BiometricVerification.self, "integral numbers", verification.with("latencyMs", 3)),
        .topic(
            Topics.presenceCommands, "upper-case uuid",
            presenceEnvelope.with("id", "0B0C8A6E-4B1E-4A57-9D1E-8D0F6C1E2A3B")),
        .topic(Topics.presenceCommands, "no reply", presenceEnvelope.with("reply", nil)),
        .topic(
            Topics.notificationCommands, "create with a service principal",
            presenceEnvelope.with("type", "notification:create").with("payload", send)
                .with("principal", ["userId": "billing", "roles": ["SERVICE"], "scopes": []])),
    ]
}
