import SocketIO

extension BiometricsClient {
    /// Creates a live session for this socket (`session:created`); the gateway records the address it saw.
    public func createSession(deviceInfo: String) async throws -> Session {
        let answer = try await request("session:create", ["deviceInfo": .string(deviceInfo)])
        try Self.refusal(in: answer, unless: "session")
        return try (answer["session"] ?? .null).decoded(as: Session.self)
    }

    /// The user's active sessions (`session:list-result`).
    public func sessions() async throws -> [Session] {
        let answer = try await request("session:list", [:])
        try Self.refusal(in: answer, unless: "sessions")
        return try (answer["sessions"] ?? .null).decoded(as: [Session].self)
    }

    /// Ends one of the user's own sessions; its sockets are disconnected wherever they are.
    public func endSession(_ sessionId: String) async throws {
        let answer = try await request("session:end", ["sessionId": .string(sessionId)])
        try Self.refusal(in: answer, unless: nil)  // the refusal carries the sessionId too: its message tells
    }

    /// Refreshes this socket's session last-seen time.
    public func sessionHeartbeat() throws {
        try emit("session:heartbeat", [:])
    }

    /// `session:new` and `session:ended` pushes for the user's other sessions.
    public func sessionChanges() -> AsyncStream<ServerPush> {
        pushes(named: ["session:new", "session:ended"])
    }
}

extension BiometricsClient {
    /// Sets this user's presence (`online` or `away`); kept across reconnects.
    public func updatePresence(_ status: String) async throws {
        let answer = try await request("presence:update", ["status": .string(status)])
        try Self.refusal(in: answer, unless: "status")
        state.withLock { $0.restore.presence = status == "online" ? nil : status }
    }

    /// Joins a presence room the token allows (claim `rooms`) and returns its members; restored after reconnects.
    @discardableResult
    public func joinRoom(_ roomId: String) async throws -> [String] {
        let answer = try await request("presence:join-room", ["roomId": .string(roomId)])
        try Self.refusal(in: answer, unless: "members")
        state.withLock { $0.restore.add(room: roomId) }
        return (answer["members"]?.arrayValue ?? []).compactMap { $0.stringValue ?? $0["userId"]?.stringValue }
    }

    /// Leaves a presence room.
    public func leaveRoom(_ roomId: String) async throws {
        state.withLock { $0.restore.remove(room: roomId) }
        let answer = try await request("presence:leave-room", ["roomId": .string(roomId)])
        try Self.refusal(in: answer, unless: "roomId")
    }

    /// `presence:updated` pushes (own sockets and shared rooms).
    public func presenceChanges() -> AsyncCompactMapSequence<AsyncStream<ServerPush>, PresenceChange> {
        pushes(named: ["presence:updated"]).compactMap { try? $0.decode(PresenceChange.self) }
    }

    /// Sends `payload` to a presence room the user is a member of.
    public func broadcast(toRoom roomId: String, type: String, payload: SocketIOValue) async throws {
        let answer = try await request("broadcast:to-room", ["targetRoom": .string(roomId), "type": .string(type),
                                                              "payload": payload])
        try Self.refusal(in: answer, unless: nil)
    }

    /// Sends `payload` to users who share a room with this user (any users for ADMIN).
    public func broadcast(toUsers users: [String], type: String, payload: SocketIOValue) async throws {
        let answer = try await request("broadcast:to-users", ["targetUsers": .array(users.map { .string($0) }),
                                                               "type": .string(type), "payload": payload])
        try Self.refusal(in: answer, unless: nil)
    }

    /// Sends `payload` to everyone (role ADMIN only).
    public func broadcastToEveryone(type: String, payload: SocketIOValue) async throws {
        let answer = try await request("broadcast:admin", ["type": .string(type), "payload": payload])
        try Self.refusal(in: answer, unless: nil)
    }

    /// `broadcast:message` pushes.
    public func broadcasts() -> AsyncStream<ServerPush> { pushes(named: ["broadcast:message"]) }
}

extension BiometricsClient {
    /// A page of unread notifications, newest first (`limit` per page, up to the service's maximum; pass the page's
    /// `nextCursor` as `before` for the next one).
    public func unreadNotifications(limit: Int? = nil, before: String? = nil) async throws -> UnreadNotifications {
        var payload: SocketIOObject = [:]
        if let limit { payload["limit"] = .number(Double(limit)) }
        if let before { payload["before"] = .string(before) }
        let answer = try await request("notification:get-unread", .object(payload))
        try Self.refusal(in: answer, unless: "notifications")
        return try answer.decoded(as: UnreadNotifications.self)
    }

    /// Marks one of the user's notifications read (every tab is told).
    public func markRead(notification id: String) async throws {
        let answer = try await request("notification:mark-read", ["notificationId": .string(id)])
        try Self.refusal(in: answer, unless: nil)  // the refusal carries the notificationId too: its message tells
    }

    /// Marks all of the user's notifications read.
    public func markAllRead() async throws {
        let answer = try await request("notification:mark-all-read", [:])
        try Self.refusal(in: answer, unless: nil)
    }

    /// Subscribes to notification categories; returns the accepted ones (restored after reconnects).
    @discardableResult
    public func subscribeNotifications(categories: [String]) async throws -> [String] {
        let answer = try await request("notification:subscribe", ["categories": .array(categories.map { .string($0) })])
        try Self.refusal(in: answer, unless: "categories")
        let accepted = (answer["categories"]?.arrayValue ?? []).compactMap(\.stringValue)
        state.withLock { $0.restore.add(categories: accepted) }
        return accepted
    }

    /// Sends a notification to a user (scope `notifications:send` or role ADMIN).
    public func sendNotification(to userId: String, type: String, title: String, body: String,
                                 category: String? = nil, data: SocketIOValue? = nil) async throws {
        var payload: SocketIOObject = ["targetUserId": .string(userId), "type": .string(type), "title": .string(title),
                                       "body": .string(body)]
        if let category { payload["category"] = .string(category) }
        if let data { payload["data"] = data }
        let answer = try await request("notification:send", .object(payload))
        try Self.refusal(in: answer, unless: nil)
    }

    /// `notification:new` pushes.
    public func notifications() -> AsyncCompactMapSequence<AsyncStream<ServerPush>, UserNotification> {
        pushes(named: ["notification:new"]).compactMap { push in
            try? (push.payload["notification"] ?? push.payload).decoded(as: UserNotification.self)
        }
    }
}
