import Crypto
import Foundation
import Messages
import VerificationWorker

/// A P-256 key pair that signs in both accepted encodings.
struct P256Fixture {
    let privateKey = P256.Signing.PrivateKey()
    var publicKey: P256.Signing.PublicKey { privateKey.publicKey }

    func raw(_ message: Data) -> String { Base64URL.encode(try! privateKey.signature(for: message).rawRepresentation) }
    func der(_ message: Data) -> String { Base64URL.encode(try! privateKey.signature(for: message).derRepresentation) }
}
