/// `biometric:verify {recordId, challenge, signature}`: verify a signature over an issued challenge.
public struct BiometricVerify: ClientEventPayload, MessagePayload {
    /// The client event `biometric:verify`.
    public static let event = ClientEvent.biometricVerify

    /// The biometric record.
    public var recordId: String
    /// The challenge as issued (base64url).
    public var challenge: String
    /// ECDSA P-256/SHA-256 signature over the decoded challenge, base64url, raw r||s or DER.
    public var signature: String

    /// Creates the payload.
    public init(recordId: String, challenge: String, signature: String) {
        self.recordId = recordId
        self.challenge = challenge
        self.signature = signature
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case recordId, challenge, signature }

    /// Decodes strictly (unknown fields and explicit nulls are errors) and validates.
    public init(from decoder: any Decoder) throws {
        let c = try StrictContainer<CodingKeys>(decoder)
        self.init(
            recordId: try c.required(.recordId),
            challenge: try c.required(.challenge),
            signature: try c.required(.signature))
        try validate(at: decoder)
    }

    /// Encodes the fields; absent optionals are omitted.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(recordId, forKey: .recordId)
        try c.encode(challenge, forKey: .challenge)
        try c.encode(signature, forKey: .signature)
    }

    /// Checks bounds, patterns and enums.
    public func validate() throws(MessageError) {
        try Check.id(recordId, "recordId")
        try Check.base64url(challenge, "challenge", max: MessageLimits.maxChallengeLength)
        try Check.base64url(signature, "signature", max: MessageLimits.maxSignatureLength)
    }
}
