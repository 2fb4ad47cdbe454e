import ArgumentParser
import Auth
import BiometricsClient
import Crypto
import Foundation
import Logging

/// `biometricsctl client`: the Swift SDK from the command line — connect, optionally subscribe to a record and
/// verify with its private key, then print every push and state change.
struct ClientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "client",
        abstract: "Connect to a gateway with the Swift SDK, verify a record, and print what the server pushes.")

    @Option(help: "The gateway, e.g. http://127.0.0.1:3001 (https/wss for TLS).")
    var url = "http://127.0.0.1:3001"

    @Option(help: "The Socket.IO path (GATEWAY_PATH).")
    var path = "/ws"

    @Option(help: "An access token (make run prints one); without it, one is minted for --user with JWT_HS256_SECRET.")
    var token: String?

    @Option(help: "The user to mint a token for when no --token is given.")
    var user = "dev"

    @Option(help: "A record to subscribe to and verify (enroll it first: biometricsctl enroll --generate).")
    var record: String?

    @Option(help: "The record's private key (PEM, as enroll --generate wrote it), to sign the challenge.")
    var privateKey: String?

    @Option(help: "Stop after this many seconds (default: run until Ctrl-C).")
    var seconds: Double?

    func validate() throws {
        guard (record == nil) == (privateKey == nil) else { throw ValidationError("--record and --private-key go together") }
    }

    func run() async throws {
        let key = try privateKey.map { path -> P256.Signing.PrivateKey in
            guard let pem = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ValidationError("cannot read \(path)")
            }
            return try P256.Signing.PrivateKey(pemRepresentation: pem)
        }
        let tokenProvider = try self.tokenProvider()
        var configuration = BiometricsClientConfiguration(url: url, token: tokenProvider)
        configuration.path = path
        var logger = Logger(label: "biometricsctl-client")
        logger.logLevel = .warning
        let client = BiometricsClient(configuration: configuration, logger: logger)
        let states = Task {
            for await state in client.states() { print("state \(state)") }
        }
        let pushes = Task {
            for await push in client.pushes() { print("push \(push.name) \(push.payload.jsonString)") }
        }
        client.start()
        try await client.waitUntilConnected()
        if let record, let key {
            try await client.subscribe(record: record)
            print("subscribed to biometric:\(record)")
            let result = try await client.verify(record: record, signingWith: key)
            print("verify \(record): success=\(result.success) confidence=\(result.confidence) reason=\(result.reason)")
        }
        if let seconds {
            try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
        } else {
            while !Task.isCancelled { try await Task.sleep(for: .seconds(3600)) }
        }
        await client.close()
        states.cancel()
        pushes.cancel()
    }

    /// The given token, or fresh ones minted for `--user` (so a long session reconnects with a valid token).
    private func tokenProvider() throws -> @Sendable () async throws -> String {
        if let token { return { token } }
        guard let secret = ProcessInfo.processInfo.environment["JWT_HS256_SECRET"] else {
            throw ValidationError("give --token, or set JWT_HS256_SECRET to mint one for --user")
        }
        let user = user
        return {
            let now = Date()
            return try await DevTokenIssuer(secret: secret).token(for: AccessTokenClaims(
                subject: user, expiresAt: now.addingTimeInterval(3600), issuedAt: now))
        }
    }
}
