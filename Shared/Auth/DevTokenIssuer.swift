import Foundation
import JWTKit

/// Mints HS256 access tokens with the configured shared secret, for development and tests (`biometricsctl token`).
public struct DevTokenIssuer: Sendable {
    /// Shortest HS256 secret accepted: 32 bytes, the hash output size (RFC 7518 §3.2).
    public static let minimumSecretLength = 32

    private let secret: String

    /// Creates an issuer; the secret must be at least ``minimumSecretLength`` bytes.
    public init(secret: String) throws(AuthError) {
        guard secret.utf8.count >= Self.minimumSecretLength else {
            throw AuthError(code: "weak_secret",
                            message: "JWT_HS256_SECRET must be at least \(Self.minimumSecretLength) bytes, got \(secret.utf8.count)")
        }
        self.secret = secret
    }

    /// A new random secret suitable for a dev stack (48 random bytes, base64url).
    public static func generateSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<48).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// Signs the claims.
    public func token(for claims: AccessTokenClaims) async throws -> String {
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        return try await keys.sign(claims)
    }

    /// Verifies a token minted with this secret and returns its claims (used by tests and `token --verify`).
    public func verify(_ token: String) async throws -> AccessTokenClaims {
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        return try await keys.verify(token, as: AccessTokenClaims.self)
    }
}

/// The one error type of the Auth module.
public struct AuthError: Error, Sendable, CustomStringConvertible {
    /// Stable code (`weak_secret`, …).
    public var code: String
    /// Human reason.
    public var message: String
    /// Creates an error.
    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }
    /// The message.
    public var description: String { message }
}
