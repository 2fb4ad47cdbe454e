/// `session:end {sessionId}`: end one of the user's sessions, disconnecting its sockets.
public struct SessionEnd: ClientEventPayload, MessagePayload {
    /// The client event `session:end`.
    public static let event = ClientEvent.sessionEnd

    /// The session to end.
    public var sessionId: String

    /// Creates the payload.
    public init(sessionId: String) {
        self.sessionId = sessionId
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case sessionId }

    /// Decodes strictly (unknown fields and explicit nulls are errors) and validates.
    public init(from decoder: any Decoder) throws {
        let c = try StrictContainer<CodingKeys>(decoder)
        self.init(
            sessionId: try c.required(.sessionId))
        try validate(at: decoder)
    }

    /// Encodes the fields; absent optionals are omitted.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(sessionId, forKey: .sessionId)
    }

    /// Checks bounds, patterns and enums.
    public func validate() throws(MessageError) {
        try Check.id(sessionId, "sessionId")
    }
}
