import Foundation
import SocketIO

/// An event the server pushed to this socket: its name and arguments (the first is the payload).
public struct ServerPush: Sendable, Hashable {
    /// The event name, e.g. `notification:new`.
    public let name: String
    /// The event's arguments as sent.
    public let arguments: [SocketIOValue]

    /// Creates a push (tests, replays).
    public init(name: String, arguments: [SocketIOValue]) {
        self.name = name
        self.arguments = arguments
    }

    /// The first argument, or `null`.
    public var payload: SocketIOValue { arguments.first ?? .null }

    /// The payload decoded as `T` (JSON rules; binary values appear as base64 strings).
    public func decode<T: Decodable>(_ type: T.Type = T.self) throws -> T { try payload.decoded(as: type) }
}

extension SocketIOValue {
    /// This value decoded as `T` through its JSON text.
    func decoded<T: Decodable>(as type: T.Type) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(jsonString.utf8))
        } catch {
            throw BiometricsClientError(.unexpectedAnswer, "cannot read \(T.self) from \(jsonString.prefix(200)): \(error)")
        }
    }

    /// `value` as a Socket.IO value through JSON (for `Encodable` payloads).
    static func encoding<T: Encodable>(_ value: T) throws -> SocketIOValue {
        let data = try JSONEncoder().encode(value)
        do {
            return try SocketIOValue(jsonBytes: data)
        } catch {
            throw BiometricsClientError(.invalidConfiguration, "payload is not JSON: \(error)")
        }
    }
}
