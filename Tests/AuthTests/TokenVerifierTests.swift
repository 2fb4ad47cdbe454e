import Auth
import Foundation
import JWTKit
import Testing

/// The JWT attack matrix: each row is a token and the answer the gateway must give at CONNECT.
@Suite("TokenVerifier", .timeLimit(.minutes(1)))
struct TokenVerifierTests {
    static let secret = "dev-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func claims(sub: String = "alice", expiresIn: TimeInterval = 600, notBefore: Date? = nil, issuer: String? = nil,
                audience: [String]? = nil) -> AccessTokenClaims {
        AccessTokenClaims(subject: sub, expiresAt: now.addingTimeInterval(expiresIn), issuedAt: now,
                          notBefore: notBefore, issuer: issuer, audience: audience, roles: ["ADMIN"],
                          scope: "notifications:send", rooms: ["team-1"])
    }

    func hs256(_ claims: AccessTokenClaims, secret: String = secret) async throws -> String {
        try await DevTokenIssuer(secret: secret).token(for: claims)
    }

    func verifier(_ keys: TokenVerifierConfiguration.KeySource = .hs256(secret: secret), issuer: String? = nil,
                  audience: String? = nil) async throws -> TokenVerifier {
        try await TokenVerifier(configuration: TokenVerifierConfiguration(keys: keys, issuer: issuer, audience: audience))
    }

    func expectRefused(_ token: String, by verifier: TokenVerifier, _ reason: String,
                       sourceLocation: SourceLocation = #_sourceLocation) async {
        do {
            let claims = try await verifier.verify(token, now: now)
            Issue.record("accepted a token that must be refused (\(reason)): \(claims)", sourceLocation: sourceLocation)
        } catch {
            #expect(error.code == "unauthorized", sourceLocation: sourceLocation)
            #expect(error.message == reason, sourceLocation: sourceLocation)
        }
    }

    @Test("a valid HS256 token yields its claims")
    func validHS256() async throws {
        let verified = try await verifier().verify(try await hs256(claims()), now: now)
        #expect(verified.sub.value == "alice")
        #expect(verified.roles == ["ADMIN"])
        #expect(verified.scopes == ["notifications:send"])
        #expect(verified.rooms == ["team-1"])
    }

    @Test("alg none is refused, whatever the claims")
    func algNone() async throws {
        let header = Data(#"{"alg":"none","typ":"JWT"}"#.utf8).base64URL
        let payload = Data(#"{"sub":"alice","exp":1900000000}"#.utf8).base64URL
        await expectRefused("\(header).\(payload).", by: try await verifier(), "unsigned tokens (alg none) are not accepted")
        await expectRefused("\(header).\(payload)", by: try await verifier(), "malformed token")
    }

    @Test("HS256 signed with the RSA public key (algorithm confusion) is refused by an RS256 verifier")
    func algorithmConfusion() async throws {
        let publicPEM = try fixture("rsa-test-public.pem")
        let forged = try await hs256(claims(), secret: publicPEM)
        await expectRefused(forged, by: try await verifier(.publicKeyPEM(publicPEM)), "algorithm HS256 is not accepted")
    }

    @Test("RS256 and ES256 public keys verify their tokens; the wrong key does not")
    func publicKeys() async throws {
        let rsaPrivate = try Insecure.RSA.PrivateKey(pem: try fixture("rsa-test-private.pem"))
        let rsaKeys = JWTKeyCollection()
        await rsaKeys.add(rsa: rsaPrivate, digestAlgorithm: .sha256)
        let rsaToken = try await rsaKeys.sign(claims())
        let rsaVerifier = try await verifier(.publicKeyPEM(try fixture("rsa-test-public.pem")))
        #expect(try await rsaVerifier.verify(rsaToken, now: now).sub.value == "alice")

        let ecPrivate = ES256PrivateKey()
        let ecKeys = JWTKeyCollection()
        await ecKeys.add(ecdsa: ecPrivate)
        let ecToken = try await ecKeys.sign(claims())
        let ecVerifier = try await verifier(.publicKeyPEM(ecPrivate.publicKey.pemRepresentation))
        #expect(try await ecVerifier.verify(ecToken, now: now).sub.value == "alice")

        let otherEC = try await verifier(.publicKeyPEM(ES256PrivateKey().publicKey.pemRepresentation))
        await expectRefused(ecToken, by: otherEC, "invalid signature")
        await expectRefused(try await hs256(claims(), secret: Self.secret + "x"), by: try await verifier(), "invalid signature")
    }

    @Test("a JWKS verifies by kid")
    func jwks() async throws {
        let ecPrivate = ES256PrivateKey()
        let parameters = try #require(ecPrivate.publicKey.parameters)
        let jwksJSON = """
            {"keys":[{"kty":"EC","crv":"P-256","kid":"k1","alg":"ES256","use":"sig","x":"\(parameters.x)","y":"\(parameters.y)"}]}
            """
        let keys = JWTKeyCollection()
        await keys.add(ecdsa: ecPrivate, kid: "k1")
        let token = try await keys.sign(claims(), kid: "k1")
        #expect(try await verifier(.jwks(jwksJSON)).verify(token, now: now).sub.value == "alice")
    }

    @Test("expiry and not-before are enforced with a 30 s leeway")
    func timeClaims() async throws {
        let verifier = try await verifier()
        await expectRefused(try await hs256(claims(expiresIn: -31)), by: verifier, "token expired")
        #expect(try await verifier.verify(try await hs256(claims(expiresIn: -10)), now: now).sub.value == "alice")
        await expectRefused(try await hs256(claims(notBefore: now.addingTimeInterval(60))), by: verifier, "token not yet valid")
        #expect(try await verifier.verify(try await hs256(claims(notBefore: now.addingTimeInterval(10))), now: now)
            .sub.value == "alice")
    }

    @Test("issuer and audience are enforced when configured")
    func issuerAudience() async throws {
        let strict = try await verifier(issuer: "https://id.example", audience: "biometrics")
        await expectRefused(try await hs256(claims()), by: strict, "wrong issuer")
        await expectRefused(try await hs256(claims(issuer: "https://evil.example", audience: ["biometrics"])), by: strict,
                            "wrong issuer")
        await expectRefused(try await hs256(claims(issuer: "https://id.example", audience: ["other"])), by: strict,
                            "wrong audience")
        #expect(try await strict.verify(try await hs256(claims(issuer: "https://id.example", audience: ["biometrics"])),
                                        now: now).sub.value == "alice")
    }

    @Test("missing sub or exp, garbage and oversize tokens are refused")
    func malformedClaims() async throws {
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: Self.secret), digestAlgorithm: .sha256)
        struct Partial: JWTPayload {
            var sub: String?
            var exp: Double?
            func verify(using algorithm: some JWTAlgorithm) async throws {}
        }
        let verifier = try await verifier()
        await expectRefused(try await keys.sign(Partial(sub: "alice", exp: nil)), by: verifier, "invalid claims: missing exp")
        await expectRefused(try await keys.sign(Partial(sub: nil, exp: 1_900_000_000)), by: verifier,
                            "invalid claims: missing sub")
        await expectRefused(try await keys.sign(Partial(sub: "", exp: 1_900_000_000)), by: verifier, "token has no subject")
        await expectRefused("", by: verifier, "missing token")
        await expectRefused("not-a-token", by: verifier, "malformed token")
        await expectRefused(String(repeating: "a", count: 9000), by: verifier, "token too large")
    }

    @Test("weak HS256 secrets are refused at start")
    func weakSecret() async {
        await #expect(throws: AuthError.self) { _ = try await TokenVerifier(configuration: .init(keys: .hs256(secret: "short"))) }
        #expect(throws: AuthError.self) { _ = try DevTokenIssuer(secret: "short") }
    }

    func fixture(_ name: String) throws -> String {
        let url = try #require(Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil))
        return try String(contentsOf: url, encoding: .utf8)
    }
}

extension Data {
    var base64URL: String {
        base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
