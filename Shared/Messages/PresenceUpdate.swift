/// `presence:update {status}`: set the user's presence (offline is published on the last disconnect).
public struct PresenceUpdate: ClientEventPayload, MessagePayload {
    /// The client event `presence:update`.
    public static let event = ClientEvent.presenceUpdate

    /// The new status.
    public var status: PresenceStatus

    /// Creates the payload.
    public init(status: PresenceStatus) {
        self.status = status
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case status }

    /// Decodes strictly (unknown fields and explicit nulls are errors) and validates.
    public init(from decoder: any Decoder) throws {
        let c = try StrictContainer<CodingKeys>(decoder)
        self.init(
            status: try c.required(.status))
        try validate(at: decoder)
    }

    /// Encodes the fields; absent optionals are omitted.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(status, forKey: .status)
    }

    /// Checks bounds, patterns and enums.
    public func validate() throws(MessageError) {
    }
}
