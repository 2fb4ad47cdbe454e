import Auth
import Crypto
import Dispatch
import Foundation

/// libFuzzer entry for the JWT path the gateway runs at CONNECT (`TokenVerifier.verify`, with jwt-kit underneath).
/// Every input is tried twice: as a whole token against an HS256 verifier (issuer and audience enforced), an ES256
/// public-key verifier and a JWKS verifier — the header path, refused before or at the signature; and split at its first
/// NUL byte into a header and a claims document that are encoded and HS256-signed with the verifier's secret — so the
/// claims decoder and the claim checks see arbitrary JSON behind a valid signature. Built by `Fuzz/run.sh`; refusals
/// (``AuthError``) are the expected answer, crashes, leaks and hangs are findings.
@_cdecl("LLVMFuzzerTestOneInput")
public func jwtFuzz(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    let bytes = start.map { Array(UnsafeRawBufferPointer(start: $0, count: count)) } ?? []
    let verifiers = FuzzVerifiers.shared
    let token = String(decoding: bytes, as: UTF8.self)
    let split = bytes.firstIndex(of: 0) ?? bytes.count
    let signed = FuzzVerifiers.signedToken(header: bytes[..<split], claims: bytes[min(split + 1, bytes.count)...])
    blocking {
        for verifier in verifiers.all { _ = try? await verifier.verify(token) }
        if let claims = try? await verifiers.hs256.verify(signed) {
            // Whatever is accepted has the required claims.
            precondition(!claims.sub.value.isEmpty, "accepted a token without a subject")
        }
    }
    return 0
}

/// Runs `body` to completion from the fuzzer's (synchronous, non-pool) thread.
private func blocking(_ body: @escaping @Sendable () async -> Void) {
    let done = DispatchSemaphore(value: 0)
    Task {
        await body()
        done.signal()
    }
    done.wait()
}

/// The verifiers, made once per process.
private final class FuzzVerifiers: Sendable {
    static let secret = "fuzz-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
    static let shared = FuzzVerifiers()

    let hs256: TokenVerifier
    let all: [TokenVerifier]

    private init() {
        let ecKey = P256.Signing.PrivateKey().publicKey
        let x = Self.base64URL(ecKey.rawRepresentation.prefix(32))
        let y = Self.base64URL(ecKey.rawRepresentation.suffix(32))
        let jwks = #"{"keys":[{"kty":"EC","crv":"P-256","kid":"k1","alg":"ES256","x":"\#(x)","y":"\#(y)"}]}"#
        let made = UnsafeTransfer<[TokenVerifier]>()
        blocking {
            do {
                made.value = [
                    try await TokenVerifier(configuration: .init(keys: .hs256(secret: Self.secret), issuer: "https://id.example",
                                                                 audience: "biometrics")),
                    try await TokenVerifier(configuration: .init(keys: .publicKeyPEM(ecKey.pemRepresentation))),
                    try await TokenVerifier(configuration: .init(keys: .jwks(jwks))),
                ]
            } catch {
                fatalError("fuzz verifiers: \(error)")
            }
        }
        all = made.value
        hs256 = all[0]
    }

    /// `base64url(header).base64url(claims).HS256 signature` with the verifiers' secret.
    static func signedToken(header: ArraySlice<UInt8>, claims: ArraySlice<UInt8>) -> String {
        let input = base64URL(header) + "." + base64URL(claims)
        let mac = HMAC<SHA256>.authenticationCode(for: Data(input.utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return input + "." + base64URL(Data(mac))
    }

    static func base64URL(_ bytes: some Collection<UInt8>) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}

/// A value handed from the task that computes it to the thread that waited for it (the semaphore orders the two).
private final class UnsafeTransfer<Value>: @unchecked Sendable {
    // @unchecked Sendable: written once by the task before it signals, read once by the waiter after the wait.
    var value: Value!
}
