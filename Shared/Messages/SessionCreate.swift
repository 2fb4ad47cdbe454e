/// `session:create {deviceInfo}`: create a session for this socket.
///
/// A client-sent `ipAddress` (as the seed client sends) is accepted and dropped: the session records the address
/// the gateway saw (`Principal.remoteAddress`).
public struct SessionCreate: ClientEventPayload, MessagePayload {
    /// The client event `session:create`.
    public static let event = ClientEvent.sessionCreate

    /// What the client says it runs on.
    public var deviceInfo: String

    /// Creates the payload.
    public init(deviceInfo: String) {
        self.deviceInfo = deviceInfo
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case deviceInfo }

    /// Decodes strictly (unknown fields and explicit nulls are errors) and validates.
    public init(from decoder: any Decoder) throws {
        let c = try StrictContainer<CodingKeys>(decoder, ignoring: [SessionCreate.ignoredIPAddressKey])
        try SessionCreate.checkIgnoredIPAddress(decoder)
        self.init(
            deviceInfo: try c.required(.deviceInfo))
        try validate(at: decoder)
    }

    /// Encodes the fields; absent optionals are omitted.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(deviceInfo, forKey: .deviceInfo)
    }

    /// Checks bounds, patterns and enums.
    public func validate() throws(MessageError) {
        try Check.text(deviceInfo, "deviceInfo", max: MessageLimits.maxDeviceInfoLength)
    }

    /// The seed's client-sent address field: accepted (a string of at most 64 characters) and never kept.
    public static let ignoredIPAddressKey = "ipAddress"

    private static func checkIgnoredIPAddress(_ decoder: any Decoder) throws {
        let raw = try decoder.container(keyedBy: AnyCodingKey.self)
        let key = AnyCodingKey(ignoredIPAddressKey)
        guard raw.contains(key) else { return }
        let value = try raw.decode(String.self, forKey: key)
        guard value.unicodeScalars.count <= MessageLimits.maxIPAddressLength else {
            throw MessageError(
                .tooLarge, field: CodingPath.render(decoder.codingPath, key),
                "must be at most \(MessageLimits.maxIPAddressLength) characters")
        }
    }
}
