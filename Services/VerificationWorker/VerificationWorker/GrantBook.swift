import Foundation
import Messages
import Redis

/// What the worker gave sockets under each record, in Redis (shared by every instance), so that revoking a record —
/// or taking a device out of it, or giving it to another owner — withdraws what was given: stream grants
/// (`grant-stream` for a device of the record) and `biometric:<recordId>` room memberships.
///
/// - `verification:grants:<recordId>`: a set of ``Grant``s (canonical JSON).
/// - `verification:grants-of:<gatewayId>:<socketId>`: the record ids a socket holds grants under (for disconnects).
/// - `verification:granted-records`: the record ids with grants (checked once after the registry caught up).
///
/// Each set expires `ttl` after its last addition: a gateway that died without publishing its disconnects leaves no
/// grant behind for ever. Taking a grant out is `SREM`, which exactly one instance wins, so a withdrawal is sent once
/// even when every instance notices the same record change.
public struct GrantBook: Sendable {
    /// One thing given to one socket under one record.
    public struct Grant: Codable, Sendable, Hashable {
        /// What was given.
        public enum Kind: String, Codable, Sendable {
            /// A stream grant for `deviceId` (and membership of `stream:<deviceId>`).
            case stream
            /// Membership of `biometric:<recordId>`.
            case room
        }

        /// Stream grant or room membership.
        public var kind: Kind
        /// The socket's gateway.
        public var gatewayId: String
        /// The socket.
        public var socketId: String
        /// The user it was given to.
        public var userId: String
        /// The device (stream grants).
        public var deviceId: String?
        /// The record role it was given through; nil when given to the record's owner.
        public var role: String?

        /// Creates a grant.
        public init(kind: Kind, gatewayId: String, socketId: String, userId: String, deviceId: String? = nil,
                    role: String? = nil) {
            self.kind = kind
            self.gatewayId = gatewayId
            self.socketId = socketId
            self.userId = userId
            self.deviceId = deviceId
            self.role = role
        }

        /// Whether `record` (nil: deleted) no longer allows it: revoked or deleted, the user no longer its owner (or
        /// the role no longer granted), or the device no longer in it.
        public func isWithdrawn(by record: BiometricRecord?) -> Bool {
            guard let record, record.status == .active else { return true }
            if let role {
                guard record.grantedRoles.contains(role) else { return true }
            } else if record.ownerUserId != userId {
                return true
            }
            if kind == .stream, let deviceId { return !record.deviceIds.contains(deviceId) }
            return false
        }

        var member: String {
            // Sorted keys: the same grant is always the same set member.
            String(decoding: (try? GrantBook.encoder.encode(self)) ?? Data(), as: UTF8.self)
        }
    }

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    private let redis: RedisClient
    private let ttl: Duration

    /// Creates a book; sets expire `ttl` after their last addition.
    public init(redis: RedisClient, ttl: Duration) {
        self.redis = redis
        self.ttl = ttl
    }

    static func recordKey(_ recordId: String) -> String { "verification:grants:\(recordId)" }
    static func socketKey(gatewayId: String, socketId: String) -> String {
        "verification:grants-of:\(gatewayId):\(socketId)"
    }
    static let recordsKey = "verification:granted-records"

    /// Records `grant` under `recordId`.
    public func add(_ grant: Grant, recordId: String) async throws {
        let expiration = RedisExpiration.seconds(max(1, Int(ttl.components.seconds)))
        let socketKey = Self.socketKey(gatewayId: grant.gatewayId, socketId: grant.socketId)
        _ = try await redis.sadd(Self.recordKey(recordId), [grant.member])
        _ = try await redis.expire(Self.recordKey(recordId), after: expiration)
        _ = try await redis.sadd(socketKey, [recordId])
        _ = try await redis.expire(socketKey, after: expiration)
        _ = try await redis.sadd(Self.recordsKey, [recordId])
    }

    /// Forgets `grant` under `recordId` (given, then refused after all); true when it was there.
    @discardableResult
    public func remove(_ grant: Grant, recordId: String) async throws -> Bool {
        try await redis.srem(Self.recordKey(recordId), [grant.member]) > 0
    }

    /// Forgets every grant of `kind` (for `deviceId`, when given) that a socket holds under `recordId`: the stream
    /// stopped or the room was left, whichever role or user it was given through.
    public func remove(_ kind: Grant.Kind, gatewayId: String, socketId: String, deviceId: String? = nil,
                       recordId: String) async throws {
        let members = try await redis.smembers(Self.recordKey(recordId)).filter { member in
            guard let grant = try? JSONDecoder().decode(Grant.self, from: Data(member.utf8)) else { return false }
            return grant.kind == kind && grant.gatewayId == gatewayId && grant.socketId == socketId
                && (deviceId == nil || grant.deviceId == deviceId)
        }
        if !members.isEmpty { _ = try await redis.srem(Self.recordKey(recordId), Array(members)) }
    }

    /// Takes out, and returns, the grants under `recordId` that `record` no longer allows. An instance gets only the
    /// grants it removed itself, so each is withdrawn by exactly one instance.
    public func takeWithdrawn(recordId: String, record: BiometricRecord?) async throws -> [Grant] {
        let members = try await redis.smembers(Self.recordKey(recordId))
        if members.isEmpty {
            _ = try await redis.srem(Self.recordsKey, [recordId])
            return []
        }
        var taken: [Grant] = []
        for member in members.sorted() {
            guard let grant = try? JSONDecoder().decode(Grant.self, from: Data(member.utf8)) else {
                _ = try await redis.srem(Self.recordKey(recordId), [member])  // not ours to understand: drop it
                continue
            }
            guard grant.isWithdrawn(by: record) else { continue }
            if try await redis.srem(Self.recordKey(recordId), [member]) > 0 { taken.append(grant) }
        }
        return taken
    }

    /// Forgets everything a disconnected socket held.
    public func forgetSocket(gatewayId: String, socketId: String) async throws {
        let socketKey = Self.socketKey(gatewayId: gatewayId, socketId: socketId)
        for recordId in try await redis.smembers(socketKey) {
            let members = try await redis.smembers(Self.recordKey(recordId))
            let held = members.filter { member in
                guard let grant = try? JSONDecoder().decode(Grant.self, from: Data(member.utf8)) else { return false }
                return grant.gatewayId == gatewayId && grant.socketId == socketId
            }
            if !held.isEmpty { _ = try await redis.srem(Self.recordKey(recordId), Array(held)) }
        }
        _ = try await redis.del([socketKey])
    }

    /// The record ids that have (or recently had) grants.
    public func grantedRecords() async throws -> Set<String> {
        try await redis.smembers(Self.recordsKey)
    }
}
