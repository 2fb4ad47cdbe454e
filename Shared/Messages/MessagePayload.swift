import Foundation

/// The payload of an envelope of one `type` on one topic.
public protocol MessagePayload: ValidatedMessage, Hashable {
    /// The envelope `type` (`biometric:verify`, `gateway:delivery`).
    static var messageType: String { get }
    /// The payload version written to the envelope.
    static var version: Int { get }
    /// The topic the envelope travels on.
    static var topic: String { get }
    /// The payload's schema file under `schemas/`.
    static var schema: String { get }
    /// What the envelope's principal must hold.
    static var principalRule: PrincipalRule { get }
}

/// What an envelope's principal must hold for a message type.
public enum PrincipalRule: Sendable, Hashable {
    /// The principal may be absent.
    case optional
    /// A principal is required (a backend's service principal is fine).
    case required
    /// A principal naming the socket and gateway is required (commands relayed for a client).
    case gatewaySocket
}

extension MessagePayload {
    /// Version 1 unless a type says otherwise.
    public static var version: Int { 1 }
    /// No principal needed unless a type says otherwise.
    public static var principalRule: PrincipalRule { .optional }

    /// Wraps this payload in an envelope with its type and version, validates it and encodes it.
    public func encodedEnvelope(
        id: UUID = .random(), occurredAt: Date = Date(), source: Source, principal: Principal? = nil,
        reply: ReplyTo? = nil
    ) throws(MessageError) -> Data {
        try MessageCoding.encode(
            Envelope(id: id, occurredAt: occurredAt, source: source, principal: principal, reply: reply, payload: self))
    }
}
