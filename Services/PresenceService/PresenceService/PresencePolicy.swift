import Foundation
import Messages

/// Why a client broadcast was refused: the `reason` of `broadcast:error` and a metric label.
public enum BroadcastRefusal: String, Sendable, Hashable, CaseIterable {
    /// `broadcast:to-room` by a user who is not a member of the room.
    case notMember = "not_member"
    /// `broadcast:to-users` to users who share no presence room with the sender.
    case noSharedRoom = "no_shared_room"
    /// `broadcast:admin` without role ADMIN.
    case adminRequired = "admin_required"
    /// A target that is not a presence room (`user:*`, `biometric:*`, `stream:*`, `notifications:*`, `admin`).
    case forbiddenRoom = "forbidden_room"
    /// The JSON `payload` is larger than `BROADCAST_MAX_PAYLOAD_BYTES`.
    case payloadTooLarge = "payload_too_large"

    /// The human-readable `message` of `broadcast:error`.
    public var message: String {
        switch self {
        case .notMember: "only members of a room may broadcast to it"
        case .noSharedRoom: "you share no presence room with these users"
        case .adminRequired: "role ADMIN required"
        case .forbiddenRoom: "not a presence room"
        case .payloadTooLarge: "broadcast payload too large"
        }
    }
}

/// Who may do what: plain decisions without I/O.
public enum PresencePolicy {
    /// The role that may join any room, message anyone and broadcast to everyone.
    public static let adminRole = "ADMIN"

    /// Whether `principal` may join presence room `roomId`: listed in the token's `rooms` claim, or role ADMIN.
    public static func mayJoin(_ roomId: String, principal: Principal) -> Bool {
        principal.hasRole(adminRole) || (principal.rooms ?? []).contains(roomId)
    }

    /// Whether `roomId` names a presence room at all (the schema already refuses the other kinds; checked again so
    /// no server room prefix can ever be reached through a client broadcast).
    public static func isPresenceRoomId(_ roomId: String) -> Bool {
        !roomId.isEmpty && roomId.utf8.count <= MessageLimits.maxRoomIdLength
            && roomId.utf8.allSatisfy { byte in
                (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                    || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
            }
    }

    /// The refusal of a payload larger than `maxBytes` as compact JSON, if it is.
    public static func payloadRefusal(_ payload: JSONValue, maxBytes: Int) -> BroadcastRefusal? {
        guard let encoded = try? MessageCoding.encode(payload), encoded.count <= maxBytes else { return .payloadTooLarge }
        return nil
    }

    /// The refusal of `broadcast:to-room`, if any: the target must be a presence room the sender is a member of.
    public static func roomBroadcastRefusal(targetRoom: String, senderIsMember: Bool, payload: JSONValue, maxBytes: Int)
        -> BroadcastRefusal?
    {
        guard isPresenceRoomId(targetRoom) else { return .forbiddenRoom }
        if let refusal = payloadRefusal(payload, maxBytes: maxBytes) { return refusal }
        return senderIsMember ? nil : .notMember
    }

    /// The refusal of `broadcast:admin`, if any.
    public static func adminBroadcastRefusal(principal: Principal, payload: JSONValue, maxBytes: Int)
        -> BroadcastRefusal?
    {
        guard principal.hasRole(adminRole) else { return .adminRequired }
        return payloadRefusal(payload, maxBytes: maxBytes)
    }
}
