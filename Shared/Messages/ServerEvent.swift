/// Event names the server sends to clients (DESIGN §4 and §7), for deliveries.
public enum ServerEvent: String, CaseIterable, Sendable, Hashable {
    /// A bad client event: `{code, message, event}` (see `MessageError.errorEventData(event:)`).
    case error = "error"
    /// `biometric:subscribed {recordId}`.
    case biometricSubscribed = "biometric:subscribed"
    /// `biometric:challenge-issued {recordId, challenge, expiresAt}`.
    case biometricChallengeIssued = "biometric:challenge-issued"
    /// `biometric:verification-started`, to the record room.
    case biometricVerificationStarted = "biometric:verification-started"
    /// `biometric:verification-result {recordId, success, confidence, reason, timestamp}`.
    case biometricVerificationResult = "biometric:verification-result"
    /// `biometric:error {message, recordId}`.
    case biometricError = "biometric:error"
    /// `biometric:stream-frame {deviceId, frame, timestamp, userId}`, binary.
    case biometricStreamFrame = "biometric:stream-frame"
    /// `session:created {session}`.
    case sessionCreated = "session:created"
    /// `session:new {session, message}`, to the user's other sockets.
    case sessionNew = "session:new"
    /// `session:ended {sessionId}`.
    case sessionEnded = "session:ended"
    /// `session:list-result {sessions}`.
    case sessionListResult = "session:list-result"
    /// `session:sync-result {sessions}`.
    case sessionSyncResult = "session:sync-result"
    /// `session:error {message}`.
    case sessionError = "session:error"
    /// `presence:updated {userId, status, timestamp}`.
    case presenceUpdated = "presence:updated"
    /// `presence:member-joined {userId, roomId}`.
    case presenceMemberJoined = "presence:member-joined"
    /// `presence:member-left {userId, roomId}`.
    case presenceMemberLeft = "presence:member-left"
    /// `presence:room-members {roomId, members}`.
    case presenceRoomMembers = "presence:room-members"
    /// `presence:error {message, roomId}`.
    case presenceError = "presence:error"
    /// `broadcast:message {type, payload, from, timestamp}`.
    case broadcastMessage = "broadcast:message"
    /// `broadcast:error {message}`.
    case broadcastError = "broadcast:error"
    /// `notification:unread-list {notifications, unreadCount, nextCursor?}`, newest first.
    case notificationUnreadList = "notification:unread-list"
    /// `notification:marked-read {notificationId, readAt}`, also to the user's other sockets.
    case notificationMarkedRead = "notification:marked-read"
    /// `notification:all-marked-read {count, readAt}`, also to the user's other sockets.
    case notificationAllMarkedRead = "notification:all-marked-read"
    /// `notification:subscribed {categories, refused}`.
    case notificationSubscribed = "notification:subscribed"
    /// `notification:new`: the notification object itself (as in the seed).
    case notificationNew = "notification:new"
    /// `notification:error {message, reason, event}`.
    case notificationError = "notification:error"
    /// `server:health`, to the admin room only.
    case serverHealth = "server:health"
}
