/// A status a client may set with `presence:update` (offline is set by the server on the last disconnect).
public enum PresenceStatus: String, Codable, Sendable, Hashable, CaseIterable {
    /// Active.
    case online
    /// Idle.
    case away

    /// Decodes, naming the field and the allowed values on error.
    public init(from decoder: any Decoder) throws {
        self = try StrictEnum.decode(Self.self, from: decoder)
    }
}
