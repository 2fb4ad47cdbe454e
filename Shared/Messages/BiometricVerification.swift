/// `biometric:verification` on biometric.verifications: the audit of one verification outcome.
///
/// It never carries key material, challenges or signatures.
public struct BiometricVerification: MessagePayload {
    /// The envelope type.
    public static let messageType = "biometric:verification"
    /// The topic it travels on.
    public static let topic = Topics.biometricVerifications
    /// Its payload schema.
    public static let schema = "messages/biometric.verification.schema.json"

    /// The record.
    public var recordId: String
    /// Who asked.
    public var userId: String
    /// Whether the signature verified.
    public var success: Bool
    /// Outcome code (snake_case): `ok`, `bad_signature`, `challenge_expired`, `challenge_unknown`,
    /// `record_unknown`, `record_revoked`, `forbidden`, ...
    public var reason: String
    /// Confidence in 0...1 (1 for a verified signature).
    public var confidence: Double
    /// Time the verification took.
    public var latencyMs: Double
    /// The gateway of the asking socket.
    public var gatewayId: String?
    /// The asking socket.
    public var socketId: String?

    /// Creates the payload.
    public init(
        recordId: String, userId: String, success: Bool, reason: String, confidence: Double, latencyMs: Double,
        gatewayId: String? = nil, socketId: String? = nil
    ) {
        self.recordId = recordId
        self.userId = userId
        self.success = success
        self.reason = reason
        self.confidence = confidence
        self.latencyMs = latencyMs
        self.gatewayId = gatewayId
        self.socketId = socketId
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case recordId, userId, success, reason, confidence, latencyMs, gatewayId, socketId
    }

    /// Decodes strictly (unknown fields and explicit nulls are errors) and validates.
    public init(from decoder: any Decoder) throws {
        let c = try StrictContainer<CodingKeys>(decoder)
        self.init(
            recordId: try c.required(.recordId),
            userId: try c.required(.userId),
            success: try c.required(.success),
            reason: try c.required(.reason),
            confidence: try c.required(.confidence),
            latencyMs: try c.required(.latencyMs),
            gatewayId: try c.optional(.gatewayId),
            socketId: try c.optional(.socketId))
        try validate(at: decoder)
    }

    /// Encodes the fields; absent optionals are omitted.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(recordId, forKey: .recordId)
        try c.encode(userId, forKey: .userId)
        try c.encode(success, forKey: .success)
        try c.encode(reason, forKey: .reason)
        try c.encode(confidence, forKey: .confidence)
        try c.encode(latencyMs, forKey: .latencyMs)
        try c.encodeIfPresent(gatewayId, forKey: .gatewayId)
        try c.encodeIfPresent(socketId, forKey: .socketId)
    }

    /// Checks bounds, patterns and enums.
    public func validate() throws(MessageError) {
        try Check.id(recordId, "recordId")
        try Check.id(userId, "userId")
        try Check.reasonCode(reason, "reason")
        try Check.range(confidence, "confidence", min: 0, max: 1)
        try Check.range(latencyMs, "latencyMs", min: 0)
        try Check.id(gatewayId, "gatewayId")
        try Check.id(socketId, "socketId")
    }
}
