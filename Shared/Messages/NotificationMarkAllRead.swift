/// `notification:mark-all-read`: mark all of the user's notifications read (no payload: none or `{}`).
public struct NotificationMarkAllRead: ClientEventPayload, MessagePayload {
    /// The client event `notification:mark-all-read`.
    public static let event = ClientEvent.notificationMarkAllRead

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
