import Foundation
import JWTKit

/// How access tokens are verified: one key source, plus the claims to enforce.
public struct TokenVerifierConfiguration: Sendable {
    /// Where the verification key comes from (exactly one, DESIGN §6).
    public enum KeySource: Sendable {
        /// `JWT_HS256_SECRET`: a shared secret (≥ 32 bytes); only `HS256` tokens verify.
        case hs256(secret: String)
        /// `JWT_PUBLIC_KEY_FILE`: a PEM public key; RS256 for RSA (≥ 2048 bits), ES256 for P-256.
        case publicKeyPEM(String)
        /// `JWT_JWKS_FILE`: a JWKS document; tokens pick their key by `kid`.
        case jwks(String)
    }

    /// The key source.
    public var keys: KeySource
    /// Required `iss`, when set.
    public var issuer: String?
    /// Required `aud` member, when set.
    public var audience: String?
    /// Clock skew tolerated on `exp` and `nbf`.
    public var leeway: TimeInterval
    /// Longest token accepted, in bytes (a bound before any parsing).
    public var maxTokenBytes: Int

    /// Creates a configuration.
    public init(keys: KeySource, issuer: String? = nil, audience: String? = nil, leeway: TimeInterval = 30,
                maxTokenBytes: Int = 8192) {
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        self.maxTokenBytes = maxTokenBytes
    }
}

/// Verifies access tokens and returns their claims; every refusal is an ``AuthError`` with a reason a client may see.
public struct TokenVerifier: Sendable {
    private let keys: JWTKeyCollection
    private let allowedAlgorithms: Set<String>
    private let configuration: TokenVerifierConfiguration

    /// Loads the keys; a bad key is an ``AuthError`` (`invalid_key`).
    public init(configuration: TokenVerifierConfiguration) async throws(AuthError) {
        self.configuration = configuration
        let keys = JWTKeyCollection()
        do {
            switch configuration.keys {
            case .hs256(let secret):
                guard secret.utf8.count >= DevTokenIssuer.minimumSecretLength else {
                    throw AuthError(code: "invalid_key",
                                    message: "the HS256 secret must be at least \(DevTokenIssuer.minimumSecretLength) bytes")
                }
                await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
                allowedAlgorithms = ["HS256"]
            case .publicKeyPEM(let pem):
                if let ecdsa = try? ES256PublicKey(pem: pem) {
                    await keys.add(ecdsa: ecdsa)
                    allowedAlgorithms = ["ES256"]
                } else {
                    await keys.add(rsa: try Insecure.RSA.PublicKey(pem: pem), digestAlgorithm: .sha256)
                    allowedAlgorithms = ["RS256"]
                }
            case .jwks(let json):
                try await keys.add(jwksJSON: json)
                allowedAlgorithms = ["RS256", "ES256"]
            }
        } catch let error as AuthError {
            throw error
        } catch {
            throw AuthError(code: "invalid_key", message: "cannot load the token verification key: \(error)")
        }
        self.keys = keys
    }

    /// Verifies signature, algorithm, `exp` (required), `nbf`, `iss` and `aud`; returns the claims.
    public func verify(_ token: String, now: Date = Date()) async throws(AuthError) -> AccessTokenClaims {
        guard !token.isEmpty else { throw refused("missing token") }
        guard token.utf8.count <= configuration.maxTokenBytes else { throw refused("token too large") }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let header = Self.decodeHeader(parts[0]) else { throw refused("malformed token") }
        guard let alg = header["alg"] as? String, alg.lowercased() != "none" else {
            throw refused("unsigned tokens (alg none) are not accepted")
        }
        guard allowedAlgorithms.contains(alg) else { throw refused("algorithm \(alg) is not accepted") }

        do {
            _ = try await keys.verify(token, as: SignatureOnly.self)
        } catch let error as JWTError where error.errorType == .signatureVerificationFailed {
            throw refused("invalid signature")
        } catch {
            throw refused("invalid token")
        }
        // Only a correctly signed token gets its claims read, so refusals never describe forged content.
        let claims: AccessTokenClaims
        do {
            guard let payload = Self.base64URLDecode(parts[1]) else { throw refused("malformed token") }
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .secondsSince1970  // JWT NumericDate
            claims = try decoder.decode(AccessTokenClaims.self, from: payload)
        } catch let error as DecodingError {
            throw refused("invalid claims: \(Self.describe(error))")
        } catch let error as AuthError {
            throw error
        } catch {
            throw refused("invalid claims")
        }
        let leeway = configuration.leeway
        guard claims.exp.value.addingTimeInterval(leeway) > now else { throw refused("token expired") }
        if let nbf = claims.nbf, nbf.value.addingTimeInterval(-leeway) > now { throw refused("token not yet valid") }
        guard !claims.sub.value.isEmpty else { throw refused("token has no subject") }
        if let issuer = configuration.issuer, claims.iss?.value != issuer { throw refused("wrong issuer") }
        if let audience = configuration.audience, !(claims.aud?.value.contains(audience) ?? false) {
            throw refused("wrong audience")
        }
        return claims
    }

    private func refused(_ reason: String) -> AuthError {
        AuthError(code: "unauthorized", message: reason)
    }

    private static func decodeHeader(_ part: Substring) -> [String: Any]? {
        guard let data = base64URLDecode(part) else { return nil }
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    }

    private static func base64URLDecode(_ part: Substring) -> Data? {
        var base64 = part.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64)
    }

    private static func describe(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound(let key, _): return "missing \(key.stringValue)"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return path.isEmpty ? "malformed" : "bad \(path)"
        @unknown default: return "malformed"
        }
    }
}

/// A payload that lets jwt-kit check only the signature; ``TokenVerifier`` reads and checks the claims itself
/// (with leeway, and with refusal reasons a client can act on).
private struct SignatureOnly: JWTPayload {
    init(from decoder: any Decoder) throws {}
    func encode(to encoder: any Encoder) throws {}
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}
