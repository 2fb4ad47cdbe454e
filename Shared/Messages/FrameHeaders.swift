import Foundation

/// The Kafka headers of a biometric.frames record (its value is the raw frame, its key the device id); as JSON, the
/// object `{device-id, user-id, gateway-id, timestamp}` of `schemas/messages/frame-headers.schema.json`.
public struct FrameHeaders: ValidatedMessage, Hashable {
    /// Header name of the device id.
    public static let deviceIdKey = "device-id"
    /// Header name of the publishing user.
    public static let userIdKey = "user-id"
    /// Header name of the gateway that received the frame.
    public static let gatewayIdKey = "gateway-id"
    /// Header name of the receive time (RFC 3339, milliseconds).
    public static let timestampKey = "timestamp"
    /// The schema of the headers object.
    public static let schema = "messages/frame-headers.schema.json"

    /// The streaming device (also the record key).
    public var deviceId: String
    /// The user whose socket published the frame.
    public var userId: String
    /// The gateway that received the frame.
    public var gatewayId: String
    /// When the gateway received it.
    public var timestamp: Date

    /// Creates frame headers.
    public init(deviceId: String, userId: String, gatewayId: String, timestamp: Date = Date()) {
        self.deviceId = deviceId
        self.userId = userId
        self.gatewayId = gatewayId
        self.timestamp = timestamp
    }

    /// Reads and validates Kafka headers (UTF-8 values); missing, unknown or repeated names are errors.
    public init(headers: [(name: String, value: String)]) throws(MessageError) {
        var object: [String: JSONValue] = [:]
        for (name, value) in headers {
            guard object.updateValue(.string(value), forKey: name) == nil else {
                throw MessageError(.invalidValue, field: name, "header appears more than once")
            }
        }
        self = try MessageCoding.decode(FrameHeaders.self, from: .object(object))
    }

    /// The headers to put on the Kafka record, in a stable order.
    public var headers: [(name: String, value: String)] {
        [
            (Self.deviceIdKey, deviceId), (Self.userIdKey, userId), (Self.gatewayIdKey, gatewayId),
            (Self.timestampKey, Timestamp.string(from: timestamp)),
        ]
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case deviceId = "device-id"
        case userId = "user-id"
        case gatewayId = "gateway-id"
        case timestamp
    }

    /// Decodes strictly and validates.
    public init(from decoder: any Decoder) throws {
        let c = try StrictContainer<CodingKeys>(decoder)
        self.init(
            deviceId: try c.required(.deviceId), userId: try c.required(.userId), gatewayId: try c.required(.gatewayId),
            timestamp: try Check.timestamp(
                try c.required(.timestamp, as: String.self), CodingPath.render(decoder.codingPath, CodingKeys.timestamp)
            ))
        try validate(at: decoder)
    }

    /// Encodes the headers object.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(deviceId, forKey: .deviceId)
        try c.encode(userId, forKey: .userId)
        try c.encode(gatewayId, forKey: .gatewayId)
        try c.encode(Timestamp.string(from: timestamp), forKey: .timestamp)
    }

    /// Checks the ids.
    public func validate() throws(MessageError) {
        try Check.id(deviceId, Self.deviceIdKey)
        try Check.id(userId, Self.userIdKey)
        try Check.id(gatewayId, Self.gatewayIdKey)
    }
}
