/// `session:list`: list the user's active sessions (no payload: none or `{}`).
public struct SessionList: ClientEventPayload, MessagePayload {
    /// The client event `session:list`.
    public static let event = ClientEvent.sessionList

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
