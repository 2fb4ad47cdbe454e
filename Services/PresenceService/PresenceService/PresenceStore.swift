import Foundation
import Messages
import Redis

/// The presence registry in Redis: sockets per gateway and per user, rooms, sessions, statuses — no `KEYS` or
/// `SCAN`, every multi-key change one Lua script (``PresenceScripts``). Key layout in the README.
public struct PresenceStore: Sendable {
    /// Expiries and defaults the scripts apply.
    public struct Settings: Sendable {
        /// Expiry of presence keys (pushed back by liveness).
        public var keyTTL: Duration
        /// How long a handled record's decision is remembered.
        public var memoTTL: Duration
        /// Grace of a gateway before its first liveness record.
        public var defaultGrace: Duration
        /// Idle time after which a session expires.
        public var sessionIdle: Duration

        /// Creates settings.
        public init(keyTTL: Duration, memoTTL: Duration, defaultGrace: Duration, sessionIdle: Duration) {
            self.keyTTL = keyTTL
            self.memoTTL = memoTTL
            self.defaultGrace = defaultGrace
            self.sessionIdle = sessionIdle
        }
    }

    /// The Redis client.
    public let redis: RedisClient
    /// The settings.
    public let settings: Settings

    /// Creates a store.
    public init(redis: RedisClient, settings: Settings) {
        self.redis = redis
        self.settings = settings
    }

    /// The sorted set of gateways, scored by the time (Unix ms) after which a silent gateway is dead.
    static let gatewaysKey = "presence:gateways"
    /// The memo of record `id`: its decision while being handled, then `done`.
    static func memoKey(_ id: UUID) -> String { "presence:memo:\(id.uuidString.lowercased())" }
    static let done = "done"

    // MARK: Idempotency

    /// Whether record `id` was handled completely.
    public func isDone(_ id: UUID) async throws -> Bool {
        try await redis.get(Self.memoKey(id)) == Self.done
    }

    /// Marks record `id` handled (its decision is no longer needed).
    public func markDone(_ id: UUID) async throws {
        try await redis.set(Self.memoKey(id), Self.done, expiration: .seconds(seconds(settings.memoTTL)))
    }

    // MARK: Connections

    /// Registers a connected socket; returns whether its user came online (nil when the socket had already gone).
    public func connected(_ event: ConnectionConnected, id: UUID, now: Date = Date()) async throws -> SocketArrival? {
        let result = try await run(PresenceScripts.connected, memo: id, now: now, [
            event.gatewayId, event.socketId, event.userId, event.remoteAddress, Timestamp.string(from: event.connectedAt),
            String(Self.milliseconds(event.connectedAt)),
        ])
        guard result["state"]?.stringValue != "closed" else { return nil }
        return SocketArrival(socketId: event.socketId, userId: event.userId, online: result["online"]?.boolValue ?? false)
    }

    /// Removes a disconnected socket.
    /// `at` is the record's time (the gateway's clock): commands of the socket from before it are refused as closed.
    public func disconnected(_ event: ConnectionDisconnected, at: Date, id: UUID, now: Date = Date()) async throws
        -> [SocketRemoval]
    {
        let result = try await run(PresenceScripts.disconnected, memo: id, now: now,
                                   [event.gatewayId, event.socketId, String(Self.milliseconds(at))])
        return result["removals"].luaList.compactMap(SocketRemoval.init)
    }

    /// Restores the presence rooms of a recovered socket from its gateway's first `connection:rooms` after the
    /// recovery; returns the room ids its user joined anew (empty for any other rooms record).
    public func restoreRooms(_ record: ConnectionRooms, id: UUID, now: Date = Date()) async throws -> [String] {
        let prefix = Rooms.presence("")
        let roomIds = record.rooms.filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
            .filter(PresencePolicy.isPresenceRoomId)
        let result = try await run(PresenceScripts.restoreRooms, memo: id, now: now,
                                   [record.gatewayId, record.socketId, record.userId] + roomIds)
        return result["joined"].luaStrings
    }

    /// Applies a liveness report: the gateway's new deadline, and with a socket list, the sockets it no longer lists
    /// (removed) and those it lists that were unknown (registered).
    public func liveness(_ report: GatewayLiveness, grace: Duration, reportedAt: Date, id: UUID, now: Date = Date())
        async throws -> (removals: [SocketRemoval], arrivals: [SocketArrival])
    {
        var arguments = [report.gatewayId, String(milliseconds(grace)), report.sockets == nil ? "0" : "1",
                         String(Self.milliseconds(reportedAt))]
        for socket in report.sockets ?? [] { arguments += [socket.socketId, socket.userId] }
        let result = try await run(PresenceScripts.liveness, memo: id, now: now, arguments)
        let arrivals = result["added"].luaList.compactMap { json -> SocketArrival? in
            guard let socketId = json["socketId"]?.stringValue, let userId = json["userId"]?.stringValue else { return nil }
            return SocketArrival(socketId: socketId, userId: userId, online: json["online"]?.boolValue ?? false)
        }
        return (result["removals"].luaList.compactMap(SocketRemoval.init), arrivals)
    }

    /// Records that the `gateway.connections` record at `offset` of `partition`, from `gatewayId`, was handled.
    public func noteProgress(partition: Int32, offset: Int64, gatewayId: String) async throws {
        _ = try await run(PresenceScripts.noteProgress, memo: nil, now: Date(),
                          [String(partition), String(offset), gatewayId])
    }

    /// The partition of `gateway.connections` that `gatewayId` reports on, and the highest offset handled there.
    public func progress(of gatewayId: String) async throws -> (partition: Int32, handled: Int64)? {
        guard let partition = try await redis.hget("presence:gateway-partitions", gatewayId).flatMap({ Int32($0) })
        else { return nil }
        let handled = try await redis.hget("presence:connections-offsets", String(partition)).flatMap { Int64($0) }
        return (partition, handled ?? -1)
    }

    /// Gateways whose deadline has passed.
    public func silentGateways(now: Date = Date()) async throws -> [String] {
        try await redis.zrangebyscore(Self.gatewaysKey, min: -.infinity, max: Double(Self.milliseconds(now)), limit: 100)
    }

    /// Removes every socket of a gateway whose deadline has passed (nil when it reported again meanwhile).
    public func expireGateway(_ gatewayId: String, now: Date = Date()) async throws -> [SocketRemoval]? {
        let result = try await run(PresenceScripts.expireGateway, memo: nil, now: now, [gatewayId])
        guard result["expired"]?.boolValue == true else { return nil }
        return result["removals"].luaList.compactMap(SocketRemoval.init)
    }

    // MARK: Presence and rooms

    /// Sets the user's status; returns who must hear it (nil when the socket had already gone).
    public func setStatus(_ status: PresenceStatus, socket: SocketRef, id: UUID, now: Date = Date()) async throws
        -> PresenceAudience?
    {
        let result = try await run(PresenceScripts.setStatus, memo: id, now: now,
                                   [socket.socketId, socket.userId, socket.gatewayId, Self.sentAt(socket), status.rawValue])
        guard result["closed"]?.boolValue != true else { return nil }
        let direct = result["direct"].luaList.compactMap { json -> ReplyAddress? in
            guard let socketId = json["socketId"]?.stringValue else { return nil }
            return ReplyAddress(socketId: socketId, gatewayId: json["gatewayId"]?.stringValue ?? socket.gatewayId)
        }
        return PresenceAudience(rooms: result["rooms"].luaStrings, directSockets: direct)
    }

    /// Adds the socket to presence room `roomId`.
    public func join(_ roomId: String, socket: SocketRef, id: UUID, now: Date = Date()) async throws -> JoinOutcome {
        let result = try await run(PresenceScripts.joinRoom, memo: id, now: now,
                                   [socket.socketId, socket.userId, socket.gatewayId, Self.sentAt(socket), roomId])
        return JoinOutcome(
            closed: result["closed"]?.boolValue ?? false, online: result["online"]?.boolValue ?? false,
            newMember: result["newMember"]?.boolValue ?? false, members: result["members"].luaStrings)
    }

    /// Takes the socket out of presence room `roomId`; true when its user left the room (no other socket in it).
    public func leave(_ roomId: String, socket: SocketRef, id: UUID, now: Date = Date()) async throws -> Bool {
        let result = try await run(PresenceScripts.leaveRoom, memo: id, now: now,
                                   [socket.socketId, socket.userId, roomId])
        return result["left"]?.boolValue ?? false
    }

    /// Whether `userId` is a member of presence room `roomId`.
    public func isMember(_ roomId: String, userId: String) async throws -> Bool {
        try await redis.sismember("presence:room:\(roomId)", userId)
    }

    /// Splits `targets` into users who share a presence room with `sender` (or are the sender; everyone when
    /// `anyone`) and the others, both in the given order.
    public func shareRooms(sender: String, targets: [String], anyone: Bool) async throws
        -> (allowed: [String], refused: [String])
    {
        let result = try await run(PresenceScripts.shareRooms, memo: nil, now: Date(),
                                   [sender, anyone ? "1" : "0"] + targets)
        return (result["allowed"].luaStrings, result["refused"].luaStrings)
    }

    // MARK: Sessions

    /// Creates a session for the socket, recording the address the gateway saw.
    public func createSession(socket: SocketRef, deviceInfo: String, ipAddress: String, id: UUID, now: Date = Date())
        async throws -> SessionCreation
    {
        let sessionId = UUID().uuidString.lowercased()
        let result = try await run(PresenceScripts.createSession, memo: id, now: now, [
            socket.socketId, socket.userId, socket.gatewayId, Self.sentAt(socket), sessionId, deviceInfo, ipAddress,
            Timestamp.string(from: now), String(seconds(settings.sessionIdle)),
        ])
        if result["closed"]?.boolValue == true { return .closed }
        if let existing = result["existing"]?.stringValue { return .existing(existing) }
        guard let session = result["session"], session.objectValue != nil else {
            throw PresenceServiceError(.corruptState, "session:create script answered without a session")
        }
        return .created(session: session, online: result["online"]?.boolValue ?? false)
    }

    /// Ends `sessionId` if it is one of `userId`'s (nil otherwise: unknown or someone else's).
    public func endSession(_ sessionId: String, userId: String, id: UUID, now: Date = Date()) async throws -> EndedSession? {
        let result = try await run(PresenceScripts.endSession, memo: id, now: now, [userId, sessionId])
        guard let ended = result["ended"], ended.objectValue != nil else { return nil }
        return EndedSession(sessionId: sessionId, socketId: ended["socketId"]?.stringValue,
                            gatewayId: ended["gatewayId"]?.stringValue)
    }

    /// Refreshes the last-seen time of the socket's session; returns it and the new time (nil without a session).
    public func heartbeat(socket: SocketRef, id: UUID, now: Date = Date()) async throws
        -> (sessionId: String, lastSeenAt: String)?
    {
        let result = try await run(PresenceScripts.heartbeat, memo: id, now: now, [
            socket.socketId, socket.userId, Timestamp.string(from: now), String(seconds(settings.sessionIdle)),
        ])
        guard let sessionId = result["sessionId"]?.stringValue, let lastSeenAt = result["lastSeenAt"]?.stringValue
        else { return nil }
        return (sessionId, lastSeenAt)
    }

    /// The user's live sessions, oldest first, as session objects.
    public func sessions(userId: String, now: Date = Date()) async throws -> [JSONValue] {
        let result = try await run(PresenceScripts.listSessions, memo: nil, now: now,
                                   [userId, String(milliseconds(settings.sessionIdle))])
        return result["sessions"].luaList
    }

    // MARK: Counts and locks

    /// Registry-wide counts (forgets idle sessions from the count first).
    public func counts(now: Date = Date()) async throws -> PresenceCounts {
        let result = try await run(PresenceScripts.counts, memo: nil, now: now,
                                   [String(milliseconds(settings.sessionIdle))])
        func count(_ key: String) -> Int { Int(result[key]?.numberValue ?? 0) }
        return PresenceCounts(sockets: count("sockets"), users: count("users"), rooms: count("rooms"),
                              sessions: count("sessions"), gateways: count("gateways"))
    }

    /// Takes lock `name` for `ttl` if nobody holds it (one instance does periodic work); true when taken.
    public func acquire(_ name: String, owner: String, ttl: Duration) async throws -> Bool {
        try await redis.set("presence:lock:\(name)", owner, expiration: .milliseconds(max(1, milliseconds(ttl))),
                            condition: .ifNotExists)
    }

    // MARK: Plumbing

    /// The command's time in Unix ms, compared with a closed socket's tombstone.
    private static func sentAt(_ socket: SocketRef) -> String { String(milliseconds(socket.sentAt)) }

    private func run(_ script: RedisScript, memo: UUID?, now: Date, _ arguments: [String]) async throws -> JSONValue {
        let common = [
            String(Self.milliseconds(now)), String(seconds(settings.keyTTL)), String(seconds(settings.memoTTL)),
            String(seconds(settings.keyTTL)), String(milliseconds(settings.defaultGrace)),
        ]
        let reply = try await redis.run(script, keys: memo.map { [Self.memoKey($0)] } ?? [], arguments: common + arguments)
        guard let text = reply.string else {
            throw PresenceServiceError(.corruptState, "presence script answered \(reply), not JSON")
        }
        if text == Self.done { throw PresenceServiceError(.alreadyHandled, "record already handled") }
        do {
            return try MessageCoding.decode(JSONValue.self, from: Data(text.utf8))
        } catch {
            throw PresenceServiceError(.corruptState, "presence script answered invalid JSON: \(error)")
        }
    }

    private func seconds(_ duration: Duration) -> Int { max(1, Int(duration.components.seconds)) }
    private func milliseconds(_ duration: Duration) -> Int {
        Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }
    static func milliseconds(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded(.down)) }
}
