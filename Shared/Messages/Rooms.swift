/// Server-side room names; clients name presence rooms by id only and never reach the other prefixes.
public enum Rooms {
    /// Every socket of a user joins `user:<userId>` on connect.
    public static func user(_ userId: String) -> String { "user:\(userId)" }
    /// Presence room `room:<roomId>` (clients say `team-1`).
    public static func presence(_ roomId: String) -> String { "room:\(roomId)" }
    /// Subscribers of a biometric record: `biometric:<recordId>`.
    public static func biometric(_ recordId: String) -> String { "biometric:\(recordId)" }
    /// Viewers of a device stream: `stream:<deviceId>`.
    public static func stream(_ deviceId: String) -> String { "stream:\(deviceId)" }
    /// Subscribers of a notification category: `notifications:<category>`.
    public static func notifications(_ category: String) -> String { "notifications:\(category)" }
    /// Sockets of users with role ADMIN (receives `server:health`).
    public static let admin = "admin"
}
