import Crypto
import Foundation
import enum Messages.Base64URL
import SocketIO

extension BiometricsClient {
    /// Joins `biometric:<recordId>` (owner or granted role only); restored after reconnects.
    public func subscribe(record recordId: String) async throws {
        let answer = try await request("biometric:subscribe", ["recordId": .string(recordId)])
        try Self.refusal(in: answer, unless: nil)
        state.withLock { $0.restore.add(record: recordId) }
    }

    /// Leaves `biometric:<recordId>`.
    public func unsubscribe(record recordId: String) async throws {
        state.withLock { $0.restore.remove(record: recordId) }
        let answer = try await request("biometric:unsubscribe", ["recordId": .string(recordId)])
        try Self.refusal(in: answer, unless: nil)
    }

    /// Asks for a single-use challenge for `recordId`.
    public func challenge(record recordId: String) async throws -> Challenge {
        let answer = try await request("biometric:challenge", ["recordId": .string(recordId)])
        try Self.refusal(in: answer, unless: "challenge")
        return try answer.decoded(as: Challenge.self)
    }

    /// Sends a signed challenge; the answer is the worker's verdict (`success: false` with a reason on refusal).
    public func verify(record recordId: String, challenge: String, signature: String) async throws -> VerificationResult {
        let answer = try await request("biometric:verify", [
            "recordId": .string(recordId), "challenge": .string(challenge), "signature": .string(signature),
        ])
        try Self.refusal(in: answer, unless: "success")
        return try answer.decoded(as: VerificationResult.self)
    }

    /// Challenge, sign the decoded challenge with `key` (ECDSA P-256/SHA-256, raw r‖s) and verify.
    public func verify(record recordId: String, signingWith key: P256.Signing.PrivateKey) async throws
        -> VerificationResult
    {
        let issued = try await challenge(record: recordId)
        guard let bytes = Base64URL.decode(issued.challenge) else {
            throw BiometricsClientError(.unexpectedAnswer, "challenge is not base64url")
        }
        let signature = try key.signature(for: bytes)
        return try await verify(record: recordId, challenge: issued.challenge,
                                signature: Base64URL.encode(signature.rawRepresentation))
    }

    /// Asks for the right to publish frames for `deviceId` (and joins `stream:<deviceId>`); restored after reconnects.
    public func startStream(device deviceId: String) async throws {
        let answer = try await request("biometric:stream-start", ["deviceId": .string(deviceId)])
        try Self.refusal(in: answer, unless: "streaming")
        state.withLock { $0.restore.add(stream: deviceId) }
    }

    /// Gives the stream grant back.
    public func stopStream(device deviceId: String) async throws {
        state.withLock { $0.restore.remove(stream: deviceId) }
        let answer = try await request("biometric:stream-stop", ["deviceId": .string(deviceId)])
        try Self.refusal(in: answer, unless: "streaming")
    }

    /// Publishes one binary frame for a granted device (fire and forget: frames are the first thing dropped under
    /// back-pressure).
    public func sendFrame(_ frame: Data, device deviceId: String) throws {
        try emit("biometric:stream-data", ["deviceId": .string(deviceId), "frame": .binary(frame)])
    }

    /// Frames of the device streams this socket views.
    public func streamFrames() -> AsyncCompactMapSequence<AsyncStream<ServerPush>, StreamFrame> {
        pushes(named: ["biometric:stream-frame"]).compactMap { push in
            guard let deviceId = push.payload["deviceId"]?.stringValue, let frame = push.payload["frame"]?.binaryValue
            else { return nil }
            return StreamFrame(deviceId: deviceId, frame: frame, userId: push.payload["userId"]?.stringValue,
                               timestamp: push.payload["timestamp"]?.stringValue)
        }
    }

    /// Verification results pushed to this socket (its own verifies).
    public func verificationResults() -> AsyncCompactMapSequence<AsyncStream<ServerPush>, VerificationResult> {
        pushes(named: ["biometric:verification-result"]).compactMap { try? $0.decode(VerificationResult.self) }
    }

    /// A service refusal (`{message, reason?}` without the answer's own `key`) as an error.
    static func refusal(in answer: SocketIOValue, unless key: String?) throws {
        if let key, answer[key] != nil { return }
        if let message = answer["message"]?.stringValue {
            throw BiometricsClientError(.serviceRefused, message, reason: answer["reason"]?.stringValue)
        }
        if key != nil { throw BiometricsClientError(.unexpectedAnswer, "answer without \(key!): \(answer.jsonString.prefix(200))") }
    }
}
