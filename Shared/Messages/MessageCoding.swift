import Foundation
#if canImport(JSONText)
import JSONText
#endif

/// The one way to put messages on the wire and read them back: JSON with sorted keys, RFC 3339 millisecond
/// dates, strict decoding and validation, every failure a `MessageError`.
public enum MessageCoding {
    /// Deeper nesting is refused (Foundation's decoder, used before, had the same limit).
    static let maxDepth = 512

    /// Validates (when the value validates itself) and encodes a value as JSON.
    public static func encode<T: Encodable>(_ value: T) throws(MessageError) -> Data {
        if let value = value as? any ValidatedMessage { try value.validate() }
        do {
            return Data(try JSONTreeEncoder.encode(value))
        } catch {
            throw MessageError(.invalidValue, "cannot encode \(T.self): \(error)")
        }
    }

    /// Encodes a value and reads it back as a `JSONValue` (e.g. for a delivery's `data`).
    public static func jsonValue<T: Encodable>(of value: T) throws(MessageError) -> JSONValue {
        try decode(JSONValue.self, from: try encode(value))
    }

    /// Decodes and validates a value; the only entry point for reading messages.
    public static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws(MessageError) -> T {
        try decode(T.self, from: try parse(data))
    }

    /// Decodes and validates a value from already-parsed JSON.
    public static func decode<T: Decodable>(_ type: T.Type, from json: JSONValue) throws(MessageError) -> T {
        do {
            return try JSONTreeDecoder.decode(T.self, from: json)
        } catch {
            throw messageError(from: error)
        }
    }

    /// JSON text as a tree: at most `maxMessageBytes`, valid UTF-8, one document nested at most `maxDepth` deep.
    static func parse(_ data: Data) throws(MessageError) -> JSONValue {
        guard data.count <= MessageLimits.maxMessageBytes else {
            throw MessageError(.tooLarge, "message is \(data.count) bytes, at most \(MessageLimits.maxMessageBytes)")
        }
        guard let text = String(validating: data, as: UTF8.self) else {
            throw MessageError(.invalidJSON, "not valid JSON")
        }
        do {
            return try JSONTextParser<JSONValue>.parse(text, maxDepth: maxDepth)
        } catch {
            throw MessageError(.invalidJSON, "not valid JSON")
        }
    }

    /// Decodes an envelope read from `topic`: its type must belong to the topic, its payload is decoded and
    /// validated, and its principal must satisfy the type's `PrincipalRule`.
    public static func decodeMessage(from data: Data, topic: String) throws(MessageError) -> DecodedMessage {
        guard Topics.spec(named: topic) != nil else {
            throw MessageError(.unknownType, "unknown topic \(topic)")
        }
        let json = try parse(data)
        guard case .string(let type)? = json["type"] else {
            _ = try decode(RawEnvelope.self, from: json)
            throw MessageError(.invalidValue, field: "type", "must be a string")
        }
        guard let payloadType = MessageCatalog.payloadType(forType: type), payloadType.topic == topic else {
            throw MessageError(.unknownType, field: "type", "\(type) is not a message type of topic \(topic)")
        }
        return try decodeMessage(payloadType, from: json)
    }

    private static func decodeMessage<P: MessagePayload>(
        _ type: P.Type, from json: JSONValue
    ) throws(MessageError) -> DecodedMessage {
        let envelope = try decode(Envelope<P>.self, from: json)
        switch P.principalRule {
        case .optional:
            break
        case .required:
            guard envelope.principal != nil else {
                throw MessageError(.missingField, field: "principal", "is required")
            }
        case .gatewaySocket:
            guard let principal = envelope.principal else {
                throw MessageError(.missingField, field: "principal", "is required")
            }
            guard principal.socketId != nil else {
                throw MessageError(.missingField, field: "principal.socketId", "is required")
            }
            guard principal.gatewayId != nil else {
                throw MessageError(.missingField, field: "principal.gatewayId", "is required")
            }
        }
        return DecodedMessage(header: envelope.header, payload: envelope.payload)
    }

    /// Maps a decoding failure to a `MessageError` naming the field.
    static func messageError(from error: any Error) -> MessageError {
        if let error = error as? MessageError { return error }
        guard let error = error as? DecodingError else {
            return MessageError(.invalidJSON, "\(error)")
        }
        switch error {
        case .keyNotFound(let key, let context):
            return MessageError(.missingField, field: CodingPath.render(context.codingPath, key), "is required")
        case .valueNotFound(_, let context):
            return MessageError(.invalidValue, field: CodingPath.render(context.codingPath), "must not be null")
        case .typeMismatch(let type, let context):
            return MessageError(
                .invalidValue, field: CodingPath.render(context.codingPath), "must be \(describe(type))")
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty {
                return MessageError(.invalidJSON, "not valid JSON")
            }
            return MessageError(.invalidValue, field: CodingPath.render(context.codingPath), context.debugDescription)
        @unknown default:
            return MessageError(.invalidJSON, "\(error)")
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "a boolean"
        case is Int.Type, is Int64.Type, is Int32.Type, is UInt.Type: "an integer"
        case is Double.Type, is Float.Type: "a number"
        case is [Any].Type: "an array"
        case is [String: Any].Type: "an object"
        default: "\(type)".contains("Array") ? "an array" : "an object"
        }
    }
}
