import ArgumentParser
import Crypto
import Foundation
import Messages
import Runtime

/// `biometricsctl enroll`: publish an active biometric record with a P-256 public key to `biometric.records`.
struct EnrollCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enroll",
        abstract: "Enroll a biometric record (ES256 public key) on biometric.records (KAFKA_BOOTSTRAP_SERVERS).")

    @Option(help: "The owner's user id.")
    var user: String

    @Option(help: "The record id.")
    var record: String

    @Option(help: "A device enrolled with the record (repeat for several).")
    var device: [String] = []

    @Option(help: "Comma-separated roles that may also use the record, e.g. OPS,ADMIN.")
    var roles: String?

    @Option(help: "PEM file with the P-256 public key (or a private key, whose public half is enrolled).")
    var publicKey: String?

    @Flag(help: "Generate a P-256 key pair for testing; the private key is written to --private-key-out.")
    var generate = false

    @Option(help: "Where --generate writes the private key (PEM, mode 0600); default ./<record>.private.pem.")
    var privateKeyOut: String?

    func validate() throws {
        guard (publicKey != nil) != generate else { throw ValidationError("give exactly one of --public-key and --generate") }
        guard privateKeyOut == nil || generate else { throw ValidationError("--private-key-out needs --generate") }
    }

    func run() async throws {
        let jwk: PublicKeyJWK
        if let publicKey {
            guard let pem = try? String(contentsOfFile: publicKey, encoding: .utf8) else {
                throw ValidationError("cannot read \(publicKey)")
            }
            jwk = try RecordPublisher.jwk(fromPEM: pem)
        } else {
            let key = P256.Signing.PrivateKey()
            let path = privateKeyOut ?? "\(record).private.pem"
            guard FileManager.default.createFile(
                atPath: path, contents: Data(key.pemRepresentation.utf8), attributes: [.posixPermissions: 0o600])
            else { throw ValidationError("cannot write \(path)") }
            print("private key written to \(path)")
            jwk = RecordPublisher.jwk(key.publicKey)
        }
        let entry = BiometricRecord(
            recordId: record, ownerUserId: user, deviceIds: device, algorithm: .es256, publicKey: jwk, status: .active,
            grantedRoles: commaList(roles) ?? [])
        do { try entry.validate() } catch { throw ValidationError("\(error)") }
        let common = try CommonConfiguration(serviceName: "biometricsctl-enroll", defaultHTTPPort: 0)
        try await RecordPublisher(kafka: common.kafka, logger: ServiceRunner.bootstrap(common)).publish(entry)
        print("enrolled record \(record) for user \(user)\(device.isEmpty ? "" : " devices \(device.joined(separator: ","))")")
    }
}

/// `biometricsctl revoke`: republish a record with status `revoked` (the worker stops verifying it at once).
struct RevokeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke",
        abstract: "Revoke a biometric record on biometric.records (KAFKA_BOOTSTRAP_SERVERS).")

    @Option(help: "The record id.")
    var record: String

    func run() async throws {
        let common = try CommonConfiguration(serviceName: "biometricsctl-revoke", defaultHTTPPort: 0)
        let publisher = RecordPublisher(kafka: common.kafka, logger: ServiceRunner.bootstrap(common))
        guard var entry = try await publisher.current(record) else {
            throw ValidationError("no record \(record) on biometric.records")
        }
        entry.status = .revoked
        try await publisher.publish(entry)
        print("revoked record \(record)")
    }
}
