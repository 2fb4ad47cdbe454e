import Foundation

/// `biometric:challenge-issued`: a single-use challenge to sign.
public struct Challenge: Sendable, Hashable, Codable {
    /// The record it was issued for.
    public var recordId: String
    /// 32 random bytes, base64url; sign the decoded bytes.
    public var challenge: String
    /// When it stops being accepted (RFC 3339).
    public var expiresAt: String
}

/// `biometric:verification-result`.
public struct VerificationResult: Sendable, Hashable, Codable {
    /// The record verified against.
    public var recordId: String
    /// Whether the signature verified (and every other check passed).
    public var success: Bool
    /// 1.0 on success, 0.0 otherwise.
    public var confidence: Double
    /// Why: `verified`, or a refusal reason (`bad_signature`, `challenge_reused`, …).
    public var reason: String
    /// When the worker decided (RFC 3339).
    public var timestamp: String
}

/// A live session (`session:created`, `session:list-result`).
public struct Session: Sendable, Hashable, Codable {
    /// The session id.
    public var id: String
    /// Its user.
    public var userId: String
    /// What the client said it runs on.
    public var deviceInfo: String?
    /// The address the gateway saw (never a client-sent one).
    public var ipAddress: String?
    /// The socket that created it.
    public var socketId: String?
    /// The gateway that socket is on.
    public var gatewayId: String?
    /// Creation time (RFC 3339).
    public var createdAt: String?
    /// Last heartbeat (RFC 3339).
    public var lastSeenAt: String?
}

/// `presence:updated`.
public struct PresenceChange: Sendable, Hashable, Codable {
    /// Whose presence changed.
    public var userId: String
    /// `online`, `away` or `offline`.
    public var status: String
    /// When (RFC 3339).
    public var timestamp: String?
}

/// A durable notification (`notification:new`, `notification:unread-list`).
public struct UserNotification: Sendable, Hashable, Codable {
    /// The notification id.
    public var id: String
    /// Its recipient.
    public var userId: String?
    /// The app-defined type.
    public var type: String
    /// The category (`general` by default).
    public var category: String?
    /// Title text.
    public var title: String
    /// Body text.
    public var body: String
    /// When it was created (RFC 3339).
    public var createdAt: String?
    /// When it was read, if it was.
    public var readAt: String?
}

/// `notification:unread-list`: one page of unread notifications.
public struct UnreadNotifications: Sendable, Hashable, Codable {
    /// Newest first.
    public var notifications: [UserNotification]
    /// All of the user's unread notifications, not just this page.
    public var unreadCount: Int?
    /// Pass as `before` for the next page; nil on the last one.
    public var nextCursor: String?
}

/// `broadcast:message`.
public struct BroadcastMessage: Sendable, Hashable, Codable {
    /// The app-defined type.
    public var type: String
    /// The sender's user id, or `admin`.
    public var from: String
    /// When (RFC 3339).
    public var timestamp: String?
}

/// `biometric:stream-frame`: one binary frame of a device stream.
public struct StreamFrame: Sendable, Hashable {
    /// The device that produced it.
    public var deviceId: String
    /// The frame bytes, exactly as sent.
    public var frame: Data
    /// Who sent it.
    public var userId: String?
    /// When the gateway relayed it (RFC 3339).
    public var timestamp: String?
}
