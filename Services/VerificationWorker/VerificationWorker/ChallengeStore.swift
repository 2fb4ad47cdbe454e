import Foundation
import Messages
import Redis

/// Single-use challenges in Redis, shared by every worker instance.
///
/// `verification:challenge:<challenge>` holds `{userId, recordId, expiresAt}` for the TTL plus the memory window
/// (so an expired challenge is told apart from an unknown one). Using a challenge is one atomic Lua script that
/// checks the binding and expiry and writes `verification:challenge-used:<challenge> <envelopeId>`: the first
/// verification to claim it owns it; any other sees `challenge_reused`, while a redelivery of the owning command
/// (same envelope id) is recognised as the owner and not refused. The challenge key is deleted in the same script.
public struct ChallengeStore: Sendable {
    /// What a challenge was issued for.
    public struct Binding: Codable, Sendable, Hashable {
        /// The user it was issued to.
        public var userId: String
        /// The record it was issued for.
        public var recordId: String
        /// When it stops being usable (Unix milliseconds).
        public var expiresAtMs: Int64
    }

    /// The outcome of taking a challenge.
    public enum Take: Sendable, Hashable {
        /// The challenge is now used by this command.
        case taken
        /// It cannot be used, for this reason.
        case refused(VerificationReason)
    }

    private let redis: RedisClient
    private let ttl: Duration
    private let memory: Duration

    /// Creates a store; `ttl` is how long a challenge is usable, `memory` how long it is remembered after that.
    public init(redis: RedisClient, ttl: Duration, memory: Duration) {
        self.redis = redis
        self.ttl = ttl
        self.memory = memory
    }

    static func challengeKey(_ challenge: String) -> String { "verification:challenge:\(challenge)" }
    static func usedKey(_ challenge: String) -> String { "verification:challenge-used:\(challenge)" }

    private var retentionMilliseconds: Int {
        Int((ttl + memory).components.seconds * 1000 + (ttl + memory).components.attoseconds / 1_000_000_000_000_000)
    }

    /// Issues a new challenge (32 random bytes, base64url) bound to `userId` and `recordId`; returns it and its expiry.
    public func issue(userId: String, recordId: String, now: Date = Date()) async throws -> (challenge: String, expiresAt: Date) {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let challenge = Base64URL.encode(bytes)
        let ttlMs = Int64(ttl.components.seconds * 1000 + ttl.components.attoseconds / 1_000_000_000_000_000)
        let expiresAtMs = Int64((now.timeIntervalSince1970 * 1000).rounded(.down)) + ttlMs
        let binding = Binding(userId: userId, recordId: recordId, expiresAtMs: expiresAtMs)
        let value = String(decoding: try JSONEncoder().encode(binding), as: UTF8.self)
        guard try await redis.set(
            Self.challengeKey(challenge), value, expiration: .milliseconds(retentionMilliseconds), condition: .ifNotExists)
        else {
            throw VerificationWorkerError(.corruptState, "challenge collision")
        }
        return (challenge, Date(timeIntervalSince1970: Double(expiresAtMs) / 1000))
    }

    /// Takes `challenge` for a verification of `recordId` by `userId` in command `commandId`: one atomic script
    /// (one round trip) that checks the claim, the binding and the expiry, claims and deletes.
    public func take(_ challenge: String, userId: String, recordId: String, commandId: UUID, now: Date = Date())
        async throws -> Take
    {
        guard let decoded = Base64URL.decode(challenge), decoded.count == 32 else { return .refused(.challengeUnknown) }
        let nowMs = Int64((now.timeIntervalSince1970 * 1000).rounded(.down))
        let reply = try await redis.run(
            Self.takeScript, keys: [Self.challengeKey(challenge), Self.usedKey(challenge)],
            arguments: [commandId.uuidString.lowercased(), userId, recordId, String(nowMs), String(retentionMilliseconds)])
        switch reply.string {
        case "taken": return .taken
        case "reused": return .refused(.challengeReused)
        case "mismatch": return .refused(.challengeMismatch)
        case "expired": return .refused(.challengeExpired)
        case "unknown": return .refused(.challengeUnknown)
        default: throw VerificationWorkerError(.corruptState, "challenge take answered \(reply)")
        }
    }

    /// KEYS: challenge, used marker. ARGV: command marker, user, record, now (ms), retention (ms).
    /// A claim by the same command (a redelivery) counts as taken; the binding is the JSON written by ``issue``.
    static let takeScript = RedisScript(#"""
        local owner = redis.call('GET', KEYS[2])
        if owner then
          if owner == ARGV[1] then return 'taken' end
          return 'reused'
        end
        local stored = redis.call('GET', KEYS[1])
        if not stored then return 'unknown' end
        local ok, binding = pcall(cjson.decode, stored)
        if not ok or type(binding) ~= 'table' then return 'unknown' end
        if binding.userId ~= ARGV[2] or binding.recordId ~= ARGV[3] then return 'mismatch' end
        if tonumber(ARGV[4]) >= tonumber(binding.expiresAtMs) then return 'expired' end
        redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[5])
        redis.call('DEL', KEYS[1])
        return 'taken'
        """#)
}
