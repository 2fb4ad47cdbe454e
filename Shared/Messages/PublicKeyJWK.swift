/// A JWK EC P-256 public key: `{kty: "EC", crv: "P-256", x, y}` with base64url (no padding) 32-byte coordinates.
public struct PublicKeyJWK: ValidatedMessage, Hashable {
    /// The JWK key type, always `EC`.
    public static let keyType = "EC"
    /// The JWK curve, always `P-256`.
    public static let curve = "P-256"

    /// The x coordinate, base64url of 32 bytes (43 characters).
    public var x: String
    /// The y coordinate, base64url of 32 bytes (43 characters).
    public var y: String

    /// Creates a key from base64url coordinates.
    public init(x: String, y: String) {
        self.x = x
        self.y = y
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case kty, crv, x, y }

    /// Decodes strictly; `kty` must be `EC` and `crv` `P-256`.
    public init(from decoder: any Decoder) throws {
        let c = try StrictContainer<CodingKeys>(decoder)
        let kty: String = try c.required(.kty)
        let crv: String = try c.required(.crv)
        try Check.oneOf(kty, CodingPath.render(decoder.codingPath, CodingKeys.kty), [Self.keyType])
        try Check.oneOf(crv, CodingPath.render(decoder.codingPath, CodingKeys.crv), [Self.curve])
        self.init(x: try c.required(.x), y: try c.required(.y))
        try validate(at: decoder)
    }

    /// Encodes with `kty` and `crv`.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Self.keyType, forKey: .kty)
        try c.encode(Self.curve, forKey: .crv)
        try c.encode(x, forKey: .x)
        try c.encode(y, forKey: .y)
    }

    /// Checks that both coordinates are 43 base64url characters.
    public func validate() throws(MessageError) {
        for (value, field) in [(x, "x"), (y, "y")] {
            guard value.utf8.count == 43, value.utf8.allSatisfy(ASCIISet.base64url.contains) else {
                throw MessageError(.invalidValue, field: field, "must be 43 base64url characters (32 bytes)")
            }
        }
    }
}
