import Crypto
import Foundation

/// The recovery id (`pid` in Socket.IO's connection-state recovery) a recoverable socket gets in its CONNECT answer:
/// which socket of which user on which gateway, sealed with HMAC-SHA256 under the cluster's recovery secret, so any
/// gateway can trust it and no client can forge one for a socket that is not its own.
struct RecoveryToken: Sendable, Hashable, Codable {
    /// The socket to restore (kept: services' replies address it).
    var socketId: String
    /// Its user; a reconnect must present a valid token for the same user.
    var userId: String
    /// The gateway that issued it.
    var gatewayId: String
    /// When it was issued (seconds since 1970).
    var issuedAt: Int64
    /// The delivery position the socket started at: where a reconnect without an `offset` resumes (socket.io-client
    /// sends none before its first event).
    var position: String

    private enum CodingKeys: String, CodingKey {
        case socketId = "s", userId = "u", gatewayId = "g", issuedAt = "t", position = "p"
    }

    /// `base64url(json).base64url(hmac)`.
    func sealed(with key: SymmetricKey) -> String {
        let body = (try? JSONEncoder().encode(self)) ?? Data()
        let mac = HMAC<SHA256>.authenticationCode(for: body, using: key)
        return Self.base64url(body) + "." + Self.base64url(Data(mac))
    }

    /// Opens a sealed token; `nil` when it is malformed or its MAC does not verify under `key`.
    static func open(_ text: String, with key: SymmetricKey) -> RecoveryToken? {
        guard text.utf8.count <= 512 else { return nil }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let body = data(base64url: parts[0]), let mac = data(base64url: parts[1]),
              HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: body, using: key)
        else { return nil }
        return try? JSONDecoder().decode(RecoveryToken.self, from: body)
    }

    /// The key for `secret` (HKDF, so the JWT secret it may be derived from is never used directly).
    static func key(secret: String) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: SymmetricKey(data: Data(secret.utf8)),
                               info: Data("biometrics-gateway socket recovery v1".utf8), outputByteCount: 32)
    }

    private static func base64url(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    private static func data(base64url text: Substring) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Data(base64Encoded: base64)
    }
}
