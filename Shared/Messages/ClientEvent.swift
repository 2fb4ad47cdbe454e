import Foundation

/// The events a client may emit (DESIGN §4), each with its payload type and the topic it leads to.
public enum ClientEvent: String, CaseIterable, Sendable, Hashable {
    /// `biometric:subscribe {recordId}`.
    case biometricSubscribe = "biometric:subscribe"
    /// `biometric:unsubscribe {recordId}`.
    case biometricUnsubscribe = "biometric:unsubscribe"
    /// `biometric:challenge {recordId}`.
    case biometricChallenge = "biometric:challenge"
    /// `biometric:verify {recordId, challenge, signature}`.
    case biometricVerify = "biometric:verify"
    /// `biometric:stream-start {deviceId}`.
    case biometricStreamStart = "biometric:stream-start"
    /// `biometric:stream-stop {deviceId}`.
    case biometricStreamStop = "biometric:stream-stop"
    /// `biometric:stream-data {deviceId, frame: <binary>}`.
    case biometricStreamData = "biometric:stream-data"
    /// `session:create {deviceInfo}`.
    case sessionCreate = "session:create"
    /// `session:list`.
    case sessionList = "session:list"
    /// `session:end {sessionId}`.
    case sessionEnd = "session:end"
    /// `session:heartbeat`.
    case sessionHeartbeat = "session:heartbeat"
    /// `session:sync`.
    case sessionSync = "session:sync"
    /// `presence:update {status}`.
    case presenceUpdate = "presence:update"
    /// `presence:join-room {roomId}`.
    case presenceJoinRoom = "presence:join-room"
    /// `presence:leave-room {roomId}`.
    case presenceLeaveRoom = "presence:leave-room"
    /// `broadcast:to-users {targetUsers, type, payload}`.
    case broadcastToUsers = "broadcast:to-users"
    /// `broadcast:to-room {targetRoom, type, payload}`.
    case broadcastToRoom = "broadcast:to-room"
    /// `broadcast:admin {type, payload}`.
    case broadcastAdmin = "broadcast:admin"
    /// `notification:get-unread {limit?, before?}`.
    case notificationGetUnread = "notification:get-unread"
    /// `notification:mark-read {notificationId}`.
    case notificationMarkRead = "notification:mark-read"
    /// `notification:mark-all-read`.
    case notificationMarkAllRead = "notification:mark-all-read"
    /// `notification:subscribe {categories}`.
    case notificationSubscribe = "notification:subscribe"
    /// `notification:send {targetUserId, type, title, body, data?, category?}`.
    case notificationSend = "notification:send"

    /// The event named `name`; `unknown_type` for any other name.
    public init(name: String) throws(MessageError) {
        guard let event = ClientEvent(rawValue: name) else {
            throw MessageError(.unknownType, field: "event", "unknown event \(name.prefix(64))")
        }
        self = event
    }

    /// The payload type.
    public var payloadType: any ClientEventPayload.Type {
        switch self {
        case .biometricSubscribe: BiometricSubscribe.self
        case .biometricUnsubscribe: BiometricUnsubscribe.self
        case .biometricChallenge: BiometricChallenge.self
        case .biometricVerify: BiometricVerify.self
        case .biometricStreamStart: BiometricStreamStart.self
        case .biometricStreamStop: BiometricStreamStop.self
        case .biometricStreamData: BiometricStreamData.self
        case .sessionCreate: SessionCreate.self
        case .sessionList: SessionList.self
        case .sessionEnd: SessionEnd.self
        case .sessionHeartbeat: SessionHeartbeat.self
        case .sessionSync: SessionSync.self
        case .presenceUpdate: PresenceUpdate.self
        case .presenceJoinRoom: PresenceJoinRoom.self
        case .presenceLeaveRoom: PresenceLeaveRoom.self
        case .broadcastToUsers: BroadcastToUsers.self
        case .broadcastToRoom: BroadcastToRoom.self
        case .broadcastAdmin: BroadcastAdmin.self
        case .notificationGetUnread: NotificationGetUnread.self
        case .notificationMarkRead: NotificationMarkRead.self
        case .notificationMarkAllRead: NotificationMarkAllRead.self
        case .notificationSubscribe: NotificationSubscribe.self
        case .notificationSend: NotificationSend.self
        }
    }

    /// The topic the event leads to: its command topic, or biometric.frames for `biometric:stream-data`.
    public var topic: String {
        switch self {
        case .biometricSubscribe, .biometricUnsubscribe, .biometricChallenge, .biometricVerify,
            .biometricStreamStart, .biometricStreamStop:
            Topics.verificationCommands
        case .biometricStreamData:
            Topics.biometricFrames
        case .sessionCreate, .sessionList, .sessionEnd, .sessionHeartbeat, .sessionSync, .presenceUpdate,
            .presenceJoinRoom, .presenceLeaveRoom, .broadcastToUsers, .broadcastToRoom, .broadcastAdmin:
            Topics.presenceCommands
        case .notificationGetUnread, .notificationMarkRead, .notificationMarkAllRead, .notificationSubscribe,
            .notificationSend:
            Topics.notificationCommands
        }
    }

    /// Whether the event is relayed as a command envelope (all but `biometric:stream-data`).
    public var isCommand: Bool { self != .biometricStreamData }

    /// The payload schema under `schemas/` (`events/biometric.verify.schema.json`).
    public var schema: String {
        "events/" + String(rawValue.map { $0 == ":" ? "." : $0 }) + ".schema.json"
    }

    /// Decodes and validates the event's first argument; no argument or `null` counts as `{}`.
    public func decodePayload(from argument: JSONValue?) throws(MessageError) -> any ClientEventPayload {
        switch argument {
        case nil, .null?: return try Self.decode(payloadType, from: .object([:]))
        case let json?: return try Self.decode(payloadType, from: json)
        }
    }

    /// Decodes and validates the event's first argument from JSON bytes; nil counts as `{}`.
    public func decodePayload(from data: Data?) throws(MessageError) -> any ClientEventPayload {
        guard let data else { return try decodePayload(from: JSONValue?.none) }
        let json = try MessageCoding.decode(JSONValue.self, from: data)
        return try decodePayload(from: json)
    }

    private static func decode<P: ClientEventPayload>(_ type: P.Type, from json: JSONValue) throws(MessageError) -> P {
        try MessageCoding.decode(P.self, from: json)
    }
}
