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

    /// How long a challenge key and a used marker live: the TTL plus the memory window (milliseconds).
    var retentionMilliseconds: Int {
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

    /// A challenge's length in bytes (before base64url).
    static let challengeBytes = 32

    /// Takes `challenge` for a verification of `recordId` by `userId` in command `commandId`: one atomic script
    /// (one round trip) that checks the claim, the binding and the expiry, claims and deletes. (The worker takes its
    /// challenges inside ``VerificationHandler/verdictScript``, which also records the verdict; this is the same
    /// take on its own.)
    public func take(_ challenge: String, userId: String, recordId: String, commandId: UUID, now: Date = Date())
        async throws -> Take
    {
        guard let decoded = Base64URL.decode(challenge), decoded.count == Self.challengeBytes else {
            return .refused(.challengeUnknown)
        }
        let nowMs = Int64((now.timeIntervalSince1970 * 1000).rounded(.down))
        let reply = try await redis.run(
            Self.takeScript, keys: [Self.challengeKey(challenge), Self.usedKey(challenge)],
            arguments: [commandId.uuidString.lowercased(), userId, recordId, String(nowMs), String(retentionMilliseconds)])
        if reply.string == "taken" { return .taken }
        guard let refusal = Self.refusals.first(where: { $0.outcome == reply.string }) else {
            throw VerificationWorkerError(.corruptState, "challenge take answered \(reply)")
        }
        return .refused(refusal.reason)
    }

    /// The outcomes of ``takeFunction`` other than `taken`, and the reason each means.
    static let refusals: [(outcome: String, reason: VerificationReason)] = [
        ("reused", .challengeReused), ("mismatch", .challengeMismatch), ("expired", .challengeExpired),
        ("unknown", .challengeUnknown),
    ]

    /// `take(challengeKey, usedKey, commandMarker, user, record, nowMs, retentionMs)` in Lua: 'taken' or one of
    /// ``refusals``' outcomes. A claim by the same command (a redelivery) counts as taken; the binding is the JSON
    /// written by ``issue``.
    static let takeFunction = #"""
        local function take(challengeKey, usedKey, marker, user, record, nowMs, retentionMs)
          local owner = redis.call('GET', usedKey)
          if owner then
            if owner == marker then return 'taken' end
            return 'reused'
          end
          local stored = redis.call('GET', challengeKey)
          if not stored then return 'unknown' end
          local ok, binding = pcall(cjson.decode, stored)
          if not ok or type(binding) ~= 'table' then return 'unknown' end
          if binding.userId ~= user or binding.recordId ~= record then return 'mismatch' end
          if tonumber(nowMs) >= tonumber(binding.expiresAtMs) then return 'expired' end
          redis.call('SET', usedKey, marker, 'PX', retentionMs)
          redis.call('DEL', challengeKey)
          return 'taken'
        end

        """#

    /// KEYS: challenge, used marker. ARGV: command marker, user, record, now (ms), retention (ms).
    static let takeScript = RedisScript(takeFunction + #"""
        return take(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5])
        """#)
}
