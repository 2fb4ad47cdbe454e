/// `presence:leave-room {roomId}`: leave presence room `room:<roomId>`.
public struct PresenceLeaveRoom: ClientEventPayload, MessagePayload {
    /// The client event `presence:leave-room`.
    public static let event = ClientEvent.presenceLeaveRoom

    /// The presence room as clients name it (`team-1`).
    public var roomId: String

    /// Creates the payload.
    public init(roomId: String) {
        self.roomId = roomId
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case roomId }

    /// Decodes strictly (unknown fields and explicit nulls are errors) and validates.
    public init(from decoder: any Decoder) throws {
        let c = try StrictContainer<CodingKeys>(decoder)
        self.init(
            roomId: try c.required(.roomId))
        try validate(at: decoder)
    }

    /// Encodes the fields; absent optionals are omitted.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(roomId, forKey: .roomId)
    }

    /// Checks bounds, patterns and enums.
    public func validate() throws(MessageError) {
        try Check.roomId(roomId, "roomId")
    }
}
