import Crypto
import Foundation
import Messages

/// ES256 (ECDSA P-256 / SHA-256) verification of a challenge signature against an enrolled JWK.
public enum SignatureVerifier {
    /// The P-256 public key of a JWK; nil when the coordinates are not a point on the curve.
    public static func publicKey(_ jwk: PublicKeyJWK) -> P256.Signing.PublicKey? {
        guard let x = Base64URL.decode(jwk.x), let y = Base64URL.decode(jwk.y), x.count == 32, y.count == 32 else {
            return nil
        }
        return try? P256.Signing.PublicKey(x963Representation: [0x04] + x + y)
    }

    /// The JWK of a P-256 public key.
    public static func jwk(_ key: P256.Signing.PublicKey) -> PublicKeyJWK {
        let raw = key.rawRepresentation  // x ‖ y, 64 bytes
        return PublicKeyJWK(x: Base64URL.encode(raw.prefix(32)), y: Base64URL.encode(raw.suffix(32)))
    }

    /// Whether `signature` (base64url of raw `r‖s` — 64 bytes — or DER) verifies over `message` with `key`.
    public static func verify<Message: DataProtocol>(
        signature: String, over message: Message, with key: P256.Signing.PublicKey
    ) -> Bool {
        guard let bytes = Base64URL.decode(signature) else { return false }
        let parsed: P256.Signing.ECDSASignature?
        if bytes.count == 64 {
            parsed = try? P256.Signing.ECDSASignature(rawRepresentation: bytes)
        } else {
            parsed = try? P256.Signing.ECDSASignature(derRepresentation: bytes)
        }
        guard let parsed else { return false }
        return key.isValidSignature(parsed, for: message)
    }
}
