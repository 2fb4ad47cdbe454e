/// `biometric:stream-start {deviceId}`: ask for the right to publish frames for a device.
public struct BiometricStreamStart: ClientEventPayload, MessagePayload {
    /// The client event `biometric:stream-start`.
    public static let event = ClientEvent.biometricStreamStart

    /// The streaming device.
    public var deviceId: String

    /// Creates the payload.
    public init(deviceId: String) {
        self.deviceId = deviceId
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case deviceId }

    /// Decodes strictly (unknown fields and explicit nulls are errors) and validates.
    public init(from decoder: any Decoder) throws {
        let c = try StrictContainer<CodingKeys>(decoder)
        self.init(
            deviceId: try c.required(.deviceId))
        try validate(at: decoder)
    }

    /// Encodes the fields; absent optionals are omitted.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(deviceId, forKey: .deviceId)
    }

    /// Checks bounds, patterns and enums.
    public func validate() throws(MessageError) {
        try Check.id(deviceId, "deviceId")
    }
}
