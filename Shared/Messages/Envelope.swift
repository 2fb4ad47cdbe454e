import Foundation

/// Every JSON message on Kafka: `id`, `type`, `version`, `occurredAt`, `source`, optional `principal` and `reply`,
/// and a payload.
public struct Envelope<Payload: Codable & Sendable>: Sendable {
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
    /// The message body.
    public var payload: Payload

    /// Creates an envelope with an explicit type.
    public init(
        id: UUID = .random(), type: String, version: Int = 1, occurredAt: Date = Date(), source: Source,
        principal: Principal? = nil, reply: ReplyTo? = nil, payload: Payload
    ) {
        self.id = id
        self.type = type
        self.version = version
        self.occurredAt = occurredAt
        self.source = source
        self.principal = principal
        self.reply = reply
        self.payload = payload
    }

    /// Creates an envelope from a header and a payload.
    public init(header: EnvelopeHeader, payload: Payload) {
        self.init(
            id: header.id, type: header.type, version: header.version, occurredAt: header.occurredAt,
            source: header.source, principal: header.principal, reply: header.reply, payload: payload)
    }

    /// The fields other than `payload`.
    public var header: EnvelopeHeader {
        EnvelopeHeader(
            id: id, type: type, version: version, occurredAt: occurredAt, source: source, principal: principal,
            reply: reply)
    }
}

extension Envelope where Payload: MessagePayload {
    /// Creates an envelope whose type and version come from the payload type.
    public init(
        id: UUID = .random(), occurredAt: Date = Date(), source: Source, principal: Principal? = nil,
        reply: ReplyTo? = nil, payload: Payload
    ) {
        self.init(
            id: id, type: Payload.messageType, version: Payload.version, occurredAt: occurredAt, source: source,
            principal: principal, reply: reply, payload: payload)
    }
}

/// An envelope whose payload is not decoded yet: read `type`, then `decodePayload(as:)`.
public typealias RawEnvelope = Envelope<JSONValue>

extension Envelope where Payload == JSONValue {
    /// Decodes and validates the payload as `T` (errors name `payload.<field>`).
    public func decodePayload<T: Decodable>(as type: T.Type) throws(MessageError) -> T {
        do {
            return try MessageCoding.decode(T.self, from: payload)
        } catch {
            throw error.prefixed(by: "payload")
        }
    }
}

extension Envelope: Equatable where Payload: Equatable {}
extension Envelope: Hashable where Payload: Hashable {}

extension Envelope: ValidatedMessage {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case id, type, version, occurredAt, source, principal, reply, payload
    }

    /// Decodes strictly and validates; for a `MessagePayload`, the type must be the payload's type.
    public init(from decoder: any Decoder) throws {
        let c = try StrictContainer<CodingKeys>(decoder)
        func field(_ key: CodingKeys) -> String { CodingPath.render(decoder.codingPath, key) }
        let type: String = try c.required(.type)
        do {
            try Self.validateType(type)
        } catch {
            throw error.prefixed(by: CodingPath.render(decoder.codingPath))
        }
        id = try Check.uuid(try c.required(.id, as: String.self), field(.id))
        self.type = type
        version = try c.required(.version)
        occurredAt = try Check.timestamp(try c.required(.occurredAt, as: String.self), field(.occurredAt))
        source = try c.required(.source)
        principal = try c.optional(.principal)
        reply = try c.optional(.reply)
        payload = try c.required(.payload)
        try Check.range(version, field(.version), min: 1)
    }

    /// Encodes with a lower-case UUID and an RFC 3339 millisecond timestamp.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id.uuidString.lowercased(), forKey: .id)
        try c.encode(type, forKey: .type)
        try c.encode(version, forKey: .version)
        try c.encode(Timestamp.string(from: occurredAt), forKey: .occurredAt)
        try c.encode(source, forKey: .source)
        try c.encodeIfPresent(principal, forKey: .principal)
        try c.encodeIfPresent(reply, forKey: .reply)
        try c.encode(payload, forKey: .payload)
    }

    /// Checks every header field and, when it validates itself, the payload.
    public func validate() throws(MessageError) {
        try Self.validateType(type)
        try Check.range(version, "version", min: 1)
        do { try source.validate() } catch { throw error.prefixed(by: "source") }
        do { try principal?.validate() } catch { throw error.prefixed(by: "principal") }
        do { try reply?.validate() } catch { throw error.prefixed(by: "reply") }
        if let payload = payload as? any ValidatedMessage {
            do { try payload.validate() } catch { throw error.prefixed(by: "payload") }
        }
    }

    private static func validateType(_ type: String) throws(MessageError) {
        try Check.messageType(type, "type")
        if let expected = Payload.self as? any MessagePayload.Type, expected.messageType != type {
            throw MessageError(.unknownType, field: "type", "expected \(expected.messageType), got \(type)")
        }
    }
}
