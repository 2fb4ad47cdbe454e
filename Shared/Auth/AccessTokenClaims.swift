import Foundation
import JWTKit

/// The claims of a Biometrics access token (DESIGN §6): who the user is, what they may do, until when.
public struct AccessTokenClaims: JWTPayload, Sendable, Equatable {
    /// `sub`: the user id; required.
    public var sub: SubjectClaim
    /// `exp`: expiry; required.
    public var exp: ExpirationClaim
    /// `iat`: issue time.
    public var iat: IssuedAtClaim?
    /// `nbf`: not valid before.
    public var nbf: NotBeforeClaim?
    /// `iss`: issuer, enforced when configured.
    public var iss: IssuerClaim?
    /// `aud`: audience, enforced when configured.
    public var aud: AudienceClaim?
    /// Roles, e.g. `["ADMIN"]`.
    public var roles: [String]?
    /// Space-separated scopes, e.g. `notifications:send`.
    public var scope: String?
    /// Presence room ids the user may join.
    public var rooms: [String]?

    /// Creates claims; times are cut to whole seconds, as JWT NumericDates usually are.
    public init(subject: String, expiresAt: Date, issuedAt: Date? = nil, notBefore: Date? = nil,
                issuer: String? = nil, audience: [String]? = nil, roles: [String]? = nil, scope: String? = nil,
                rooms: [String]? = nil) {
        func whole(_ date: Date) -> Date { Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down)) }
        sub = SubjectClaim(value: subject)
        exp = ExpirationClaim(value: whole(expiresAt))
        iat = issuedAt.map { IssuedAtClaim(value: whole($0)) }
        nbf = notBefore.map { NotBeforeClaim(value: whole($0)) }
        iss = issuer.map { IssuerClaim(value: $0) }
        aud = audience.map { AudienceClaim(value: $0) }
        self.roles = roles
        self.scope = scope
        self.rooms = rooms
    }

    /// Checks expiry and not-before; issuer and audience are checked by the verifier that knows the configuration.
    public func verify(using algorithm: some JWTAlgorithm) async throws {
        try exp.verifyNotExpired()
        try nbf?.verifyNotBefore()
    }

    /// The scopes as a list.
    public var scopes: [String] { (scope ?? "").split(separator: " ").map(String.init) }
}
