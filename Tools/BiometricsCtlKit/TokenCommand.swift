import ArgumentParser
import Auth
import Foundation

/// `biometricsctl token`: mint a dev access token with the configured HS256 secret.
struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Mint an HS256 access token signed with JWT_HS256_SECRET (≥ 32 bytes).")

    @Option(help: "User id (the `sub` claim).")
    var user: String

    @Option(help: "Comma-separated roles, e.g. ADMIN,OPS.")
    var roles: String?

    @Option(help: "Space-separated scopes, e.g. 'notifications:send'.")
    var scope: String?

    @Option(help: "Comma-separated presence room ids the user may join, e.g. team-1,team-2.")
    var rooms: String?

    @Option(help: "Lifetime in seconds.")
    var ttl: Int = 3600

    @Option(help: "Issuer claim; defaults to JWT_ISSUER when that is set.")
    var issuer: String?

    @Option(help: "Audience claim; defaults to JWT_AUDIENCE when that is set.")
    var audience: String?

    func validate() throws {
        guard !user.isEmpty else { throw ValidationError("--user must not be empty") }
        guard ttl > 0 else { throw ValidationError("--ttl must be positive") }
    }

    func run() async throws {
        guard let secret = ProcessInfo.processInfo.environment["JWT_HS256_SECRET"] else {
            throw ValidationError("JWT_HS256_SECRET is not set")
        }
        let environment = ProcessInfo.processInfo.environment
        let issuerClaim = self.issuer ?? environment["JWT_ISSUER"]
        let audienceClaim = audience ?? environment["JWT_AUDIENCE"]
        let issuer = try DevTokenIssuer(secret: secret)
        let now = Date()
        let claims = AccessTokenClaims(
            subject: user, expiresAt: now.addingTimeInterval(Double(ttl)), issuedAt: now,
            issuer: issuerClaim, audience: audienceClaim.map { [$0] },
            roles: commaList(roles), scope: scope, rooms: commaList(rooms))
        print(try await issuer.token(for: claims))
    }
}

/// Splits `a,b, c` into `["a", "b", "c"]`; nil or empty gives nil.
func commaList(_ text: String?) -> [String]? {
    guard let text else { return nil }
    let items = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    return items.isEmpty ? nil : items
}
