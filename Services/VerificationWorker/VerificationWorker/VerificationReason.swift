/// Why a verification (or a challenge, subscription or stream request) ended as it did: the `reason` of
/// `biometric:verification-result` and of the `biometric.verifications` audit. The README lists the set.
public enum VerificationReason: String, Sendable, Hashable, CaseIterable, Codable {
    /// The signature verified.
    case ok
    /// No record with this id is enrolled.
    case unknownRecord = "unknown_record"
    /// The record is revoked.
    case revoked
    /// The caller neither owns the record nor holds a role it grants.
    case notOwner = "not_owner"
    /// The challenge was never issued (or is long forgotten).
    case challengeUnknown = "challenge_unknown"
    /// The challenge was issued but its TTL passed.
    case challengeExpired = "challenge_expired"
    /// The challenge was already used by an earlier verification.
    case challengeReused = "challenge_reused"
    /// The challenge was issued to another user or for another record.
    case challengeMismatch = "challenge_mismatch"
    /// The signature is malformed or does not verify over the challenge.
    case badSignature = "bad_signature"
    /// The record's enrolled key is not a usable P-256 public key.
    case invalidKey = "invalid_key"
    /// The record uses an algorithm this worker does not verify.
    case unsupportedAlgorithm = "unsupported_algorithm"
    /// The worker could not reach what it needs (Redis, Kafka); the command went to `deadletter`. Try again.
    case unavailable

    /// Whether the outcome is a success.
    public var isSuccess: Bool { self == .ok }

    /// A human-readable message for `biometric:error`.
    public var message: String {
        switch self {
        case .ok: "verified"
        case .unknownRecord: "unknown biometric record"
        case .revoked: "biometric record is revoked"
        case .notOwner: "not allowed for this biometric record"
        case .challengeUnknown: "unknown challenge"
        case .challengeExpired: "challenge expired"
        case .challengeReused: "challenge already used"
        case .challengeMismatch: "challenge was issued for another user or record"
        case .badSignature: "signature does not verify"
        case .invalidKey: "enrolled key is unusable"
        case .unsupportedAlgorithm: "unsupported signature algorithm"
        case .unavailable: "verification is unavailable, try again"
        }
    }
}
