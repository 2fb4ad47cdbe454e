/// `biometric:subscribe {recordId}`: join `biometric:<recordId>` if the user owns the record or has a role it grants.
public struct BiometricSubscribe: ClientEventPayload, MessagePayload {
    /// The client event `biometric:subscribe`.
    public static let event = ClientEvent.biometricSubscribe

    /// The biometric record.
    public var recordId: String

    /// Creates the payload.
    public init(recordId: String) {
        self.recordId = recordId
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case recordId }

    /// Decodes strictly (unknown fields and explicit nulls are errors) and validates.
    public init(from decoder: any Decoder) throws {
        let c = try StrictContainer<CodingKeys>(decoder)
        self.init(
            recordId: try c.required(.recordId))
        try validate(at: decoder)
    }

    /// Encodes the fields; absent optionals are omitted.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(recordId, forKey: .recordId)
    }

    /// Checks bounds, patterns and enums.
    public func validate() throws(MessageError) {
        try Check.id(recordId, "recordId")
    }
}
