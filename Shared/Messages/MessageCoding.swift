import Foundation

/// The one way to put messages on the wire and read them back: JSON with sorted keys, RFC 3339 millisecond
/// dates, strict decoding and validation, every failure a `MessageError`.
public enum MessageCoding {
    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(Timestamp.string(from: date))
        }
        return encoder
    }()

    private static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let string = try container.decode(String.self)
            guard let date = Timestamp.date(from: string) else {
                throw MessageError(
                    .invalidValue, field: CodingPath.render(decoder.codingPath),
                    "must be an RFC 3339 UTC timestamp with milliseconds")
            }
            return date
        }
        return decoder
    }()

    /// Validates (when the value validates itself) and encodes a value as JSON.
    public static func encode<T: Encodable>(_ value: T) throws(MessageError) -> Data {
        if let value = value as? any ValidatedMessage { try value.validate() }
        do {
            return try encoder.encode(value)
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
        guard data.count <= MessageLimits.maxMessageBytes else {
            throw MessageError(.tooLarge, "message is \(data.count) bytes, at most \(MessageLimits.maxMessageBytes)")
        }
        do {
            return try decoder.decode(T.self, from: data)
        } catch {
            var failure = messageError(from: error)
            if failure.code == .invalidJSON, T.self != JSONValue.self,
                (try? decoder.decode(JSONValue.self, from: data)) != nil
            {
                failure = MessageError(.invalidValue, "a number is out of range")
            }
            throw failure
        }
    }

    /// Decodes and validates a value from already-parsed JSON.
    public static func decode<T: Decodable>(_ type: T.Type, from json: JSONValue) throws(MessageError) -> T {
        let data: Data
        do {
            data = try encoder.encode(json)
        } catch {
            throw MessageError(.invalidValue, "not encodable as JSON: \(error)")
        }
        return try decode(T.self, from: data)
    }

    /// Decodes an envelope read from `topic`: its type must belong to the topic, its payload is decoded and
    /// validated, and its principal must satisfy the type's `PrincipalRule`.
    public static func decodeMessage(from data: Data, topic: String) throws(MessageError) -> DecodedMessage {
        guard Topics.spec(named: topic) != nil else {
            throw MessageError(.unknownType, "unknown topic \(topic)")
        }
        guard data.count <= MessageLimits.maxMessageBytes else {
            throw MessageError(.tooLarge, "message is \(data.count) bytes, at most \(MessageLimits.maxMessageBytes)")
        }
        guard let peek = try? decoder.decode(TypePeek.self, from: data) else {
            _ = try decode(RawEnvelope.self, from: data)
            throw MessageError(.invalidValue, field: "type", "must be a string")
        }
        guard let payloadType = MessageCatalog.payloadType(forType: peek.type), payloadType.topic == topic else {
            throw MessageError(.unknownType, field: "type", "\(peek.type) is not a message type of topic \(topic)")
        }
        return try decodeMessage(payloadType, from: data)
    }

    private static func decodeMessage<P: MessagePayload>(
        _ type: P.Type, from data: Data
    ) throws(MessageError) -> DecodedMessage {
        let envelope = try decode(Envelope<P>.self, from: data)
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

    private struct TypePeek: Decodable {
        let type: String
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
