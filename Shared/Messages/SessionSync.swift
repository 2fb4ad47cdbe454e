/// `session:sync`: ask for the user's sessions again (no payload: none or `{}`).
public struct SessionSync: ClientEventPayload, MessagePayload {
    /// The client event `session:sync`.
    public static let event = ClientEvent.sessionSync

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
