import Foundation

/// The envelope fields other than `payload`, for building envelopes and reading them before the payload.
public struct EnvelopeHeader: Sendable, Hashable {
    /// Unique message id; consumers use it for idempotency.
    public var id: UUID
    /// Message type (a client event name or `namespace:name`).
    public var type: String
    /// Payload version of the type.
    public var version: Int
    /// When the message was produced (millisecond precision on the wire).
    public var occurredAt: Date
    /// The producing process.
    public var source: Source
    /// Who acts, when known.
    public var principal: Principal?
    /// Where to answer the client's acknowledgement, when it asked for one.
    public var reply: ReplyTo?

    /// Creates a header.
    public init(
        id: UUID = .random(), type: String, version: Int = 1, occurredAt: Date = Date(), source: Source,
        principal: Principal? = nil, reply: ReplyTo? = nil
    ) {
        self.id = id
        self.type = type
        self.version = version
        self.occurredAt = occurredAt
        self.source = source
        self.principal = principal
        self.reply = reply
    }
}
