/// The payload of one client event; decoded strictly and validated before anything is relayed.
public protocol ClientEventPayload: ValidatedMessage, Hashable {
    /// The client event this payload belongs to.
    static var event: ClientEvent { get }
}

extension MessagePayload where Self: ClientEventPayload {
    /// The envelope type of a client command is the event name.
    public static var messageType: String { event.rawValue }
    /// The event's command topic.
    public static var topic: String { event.topic }
    /// The event's payload schema.
    public static var schema: String { event.schema }
    /// Client commands carry the gateway's principal for the socket.
    public static var principalRule: PrincipalRule { .gatewaySocket }
}
