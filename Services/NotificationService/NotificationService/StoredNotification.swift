import Foundation
import Messages

/// A durable notification as the store keeps it and clients receive it (`notification:new`, `unread-list`).
public struct StoredNotification: Sendable, Hashable {
    /// Its id (a UUID, lower case).
    public var id: String
    /// The recipient.
    public var userId: String
    /// Application notification type.
    public var type: String
    /// Category (`general` by default).
    public var category: String
    /// Title.
    public var title: String
    /// Body.
    public var body: String
    /// Application data, if any.
    public var data: JSONValue?
    /// Who created it: the sending user or the backend's service principal.
    public var senderId: String
    /// When it was stored (millisecond precision).
    public var createdAt: Date
    /// When its user read it; nil while unread.
    public var readAt: Date?

    /// Creates a notification value.
    public init(
        id: String, userId: String, type: String, category: String, title: String, body: String, data: JSONValue?,
        senderId: String, createdAt: Date, readAt: Date? = nil
    ) {
        self.id = id
        self.userId = userId
        self.type = type
        self.category = category
        self.title = title
        self.body = body
        self.data = data
        self.senderId = senderId
        self.createdAt = createdAt
        self.readAt = readAt
    }

    /// The client-facing object: `{id, userId, type, category, title, body, data?, senderId, createdAt, readAt}`
    /// (`readAt` is null while unread).
    public var json: JSONValue {
        var object: [String: JSONValue] = [
            "id": .string(id), "userId": .string(userId), "type": .string(type), "category": .string(category),
            "title": .string(title), "body": .string(body), "senderId": .string(senderId),
            "createdAt": .string(Timestamp.string(from: createdAt)),
            "readAt": readAt.map { .string(Timestamp.string(from: $0)) } ?? .null,
        ]
        if let data { object["data"] = data }
        return .object(object)
    }
}
