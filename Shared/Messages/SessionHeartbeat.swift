/// `session:heartbeat`: refresh this socket's session (no payload: none or `{}`).
public struct SessionHeartbeat: ClientEventPayload, MessagePayload {
    /// The client event `session:heartbeat`.
    public static let event = ClientEvent.sessionHeartbeat

    /// Creates the payload.
    public init() {
    }

    /// Decodes `{}`; any member is an unknown field.
    public init(from decoder: any Decoder) throws {
        try decoder.expectEmptyObject()
    }

    /// Encodes `{}`.
    public func encode(to encoder: any Encoder) throws {
        encoder.encodeEmptyObject()
    }

    /// Nothing to check.
    public func validate() throws(MessageError) {}
}
