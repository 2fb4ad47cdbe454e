import Foundation
import Messages
import SocketIO

/// Converts between the Socket.IO wire values and the JSON values of Kafka messages.
enum JSONBridge {
    /// Thrown for a binary value where JSON is expected (only stream frames may carry bytes).
    struct BinaryNotAllowed: Error {}

    /// The JSON value of a client argument; binary anywhere inside is refused.
    static func json(_ value: SocketIOValue) throws(BinaryNotAllowed) -> JSONValue {
        switch value {
        case .null: return .null
        case .bool(let bool): return .bool(bool)
        case .number(let number): return .number(number)
        case .string(let string): return .string(string)
        case .array(let items):
            var result: [JSONValue] = []
            result.reserveCapacity(items.count)
            for item in items { result.append(try json(item)) }
            return .array(result)
        case .object(let object):
            var result: [String: JSONValue] = [:]
            for (key, item) in object { result[key] = try json(item) }
            return .object(result)
        case .binary: throw BinaryNotAllowed()
        }
    }

    /// The Socket.IO value of a JSON value from Kafka.
    static func socketIO(_ value: JSONValue) -> SocketIOValue {
        switch value {
        case .null: return .null
        case .bool(let bool): return .bool(bool)
        case .number(let number): return .number(number)
        case .string(let string): return .string(string)
        case .array(let items): return .array(items.map(socketIO))
        case .object(let object):
            var result = SocketIOObject()
            for key in object.keys.sorted() { result[key] = socketIO(object[key]!) }
            return .object(result)
        }
    }
}
