/// Whether a biometric record may verify.
public enum RecordStatus: String, Codable, Sendable, Hashable, CaseIterable {
    /// Usable.
    case active
    /// Revoked: every verification fails with `record_revoked`.
    case revoked

    /// Decodes, naming the field and the allowed values on error.
    public init(from decoder: any Decoder) throws {
        self = try StrictEnum.decode(Self.self, from: decoder)
    }
}
