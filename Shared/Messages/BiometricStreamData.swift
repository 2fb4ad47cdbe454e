/// `biometric:stream-data {deviceId, frame}`: the JSON part of a binary frame event (the bytes are an attachment).
public struct BiometricStreamData: ClientEventPayload {
    /// The client event `biometric:stream-data`.
    public static let event = ClientEvent.biometricStreamData

    /// The streaming device.
    public var deviceId: String
    /// The Socket.IO placeholder of the frame attachment, when the codec keeps it.
    public var frame: BinaryPlaceholder?

    /// Creates the payload.
    public init(deviceId: String, frame: BinaryPlaceholder? = nil) {
        self.deviceId = deviceId
        self.frame = frame
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case deviceId, frame }

    /// Decodes strictly (unknown fields and explicit nulls are errors) and validates.
    public init(from decoder: any Decoder) throws {
        let c = try StrictContainer<CodingKeys>(decoder)
        self.init(
            deviceId: try c.required(.deviceId),
            frame: try c.optional(.frame))
        try validate(at: decoder)
    }

    /// Encodes the fields; absent optionals are omitted.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(deviceId, forKey: .deviceId)
        try c.encodeIfPresent(frame, forKey: .frame)
    }

    /// Checks bounds, patterns and enums.
    public func validate() throws(MessageError) {
        try Check.id(deviceId, "deviceId")
        if let frame { try Check.nested(frame, "frame") }
    }
}
