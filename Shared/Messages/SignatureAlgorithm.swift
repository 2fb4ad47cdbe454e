/// The signature algorithm of a biometric record.
public enum SignatureAlgorithm: String, Codable, Sendable, Hashable, CaseIterable {
    /// ECDSA P-256 with SHA-256.
    case es256 = "ES256"

    /// Decodes, naming the field and the allowed values on error.
    public init(from decoder: any Decoder) throws {
        self = try StrictEnum.decode(Self.self, from: decoder)
    }
}
