/// A delivery that changes gateway state for the target sockets.
public struct DeliveryControl: ValidatedMessage, Hashable {
    /// What to do.
    public enum Action: String, Codable, Sendable, Hashable, CaseIterable {
        /// Join `room`.
        case join
        /// Leave `room`.
        case leave
        /// Disconnect, with an optional `reason`.
        case disconnect
        /// Allow publishing frames for `deviceId` (and join `stream:<deviceId>`).
        case grantStream = "grant-stream"
        /// Withdraw the right to publish frames for `deviceId`.
        case revokeStream = "revoke-stream"
        /// Answer acknowledgement `ackId` with `data`.
        case ack

        /// Decodes, naming the field and the allowed values on error.
        public init(from decoder: any Decoder) throws {
            self = try StrictEnum.decode(Self.self, from: decoder)
        }
    }

    /// What to do.
    public var action: Action
    /// Server room name, for join and leave.
    public var room: String?
    /// Device, for grant-stream and revoke-stream.
    public var deviceId: String?
    /// Acknowledgement to answer, for ack.
    public var ackId: Int?
    /// The acknowledgement's argument, for ack (any JSON; absent answers with no argument).
    public var data: JSONValue?
    /// Human-readable reason (disconnect, revoke-stream).
    public var reason: String?

    /// Creates a control.
    public init(
        action: Action, room: String? = nil, deviceId: String? = nil, ackId: Int? = nil, data: JSONValue? = nil,
        reason: String? = nil
    ) {
        self.action = action
        self.room = room
        self.deviceId = deviceId
        self.ackId = ackId
        self.data = data
        self.reason = reason
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case action, room, deviceId, ackId, data, reason }

    /// Decodes strictly and validates.
    public init(from decoder: any Decoder) throws {
        let c = try StrictContainer<CodingKeys>(decoder)
        self.init(
            action: try c.required(.action), room: try c.optional(.room), deviceId: try c.optional(.deviceId),
            ackId: try c.optional(.ackId), data: try c.optionalJSON(.data), reason: try c.optional(.reason))
        try validate(at: decoder)
    }

    /// Encodes the fields; absent optionals are omitted.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(action, forKey: .action)
        try c.encodeIfPresent(room, forKey: .room)
        try c.encodeIfPresent(deviceId, forKey: .deviceId)
        try c.encodeIfPresent(ackId, forKey: .ackId)
        try c.encodeIfPresent(data, forKey: .data)
        try c.encodeIfPresent(reason, forKey: .reason)
    }

    /// Checks the fields and that each action has what it needs.
    public func validate() throws(MessageError) {
        switch action {
        case .join, .leave:
            guard room != nil else {
                throw MessageError(.missingField, field: "room", "is required for \(action.rawValue)")
            }
        case .grantStream, .revokeStream:
            guard deviceId != nil else {
                throw MessageError(.missingField, field: "deviceId", "is required for \(action.rawValue)")
            }
        case .ack:
            guard ackId != nil else { throw MessageError(.missingField, field: "ackId", "is required for ack") }
        case .disconnect:
            break
        }
        if let room { try Check.serverRoom(room, "room") }
        try Check.id(deviceId, "deviceId")
        if let ackId { try Check.range(ackId, "ackId", min: 0, max: MessageLimits.maxAckId) }
        if let reason { try Check.text(reason, "reason", max: MessageLimits.maxReasonLength) }
    }
}
