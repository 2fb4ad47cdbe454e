/// Bounds and patterns shared by `schemas/` and the Swift validation (a test checks they agree).
public enum MessageLimits {
    /// Largest JSON message accepted by `MessageCoding.decode` (bytes; Kafka's default max message size).
    public static let maxMessageBytes = 1_000_000

    /// Characters of an identifier (user, record, device, session, socket, gateway, notification, instance).
    public static let idCharacters = "A-Za-z0-9._:@-"
    /// Pattern of an identifier.
    public static var idPattern: String { "^[\(idCharacters)]+$" }
    /// Longest identifier.
    public static let maxIdLength = 128

    /// Characters of a client-named presence room id or notification category (no ':').
    public static let roomIdCharacters = "A-Za-z0-9._-"
    /// Pattern of a presence room id or notification category.
    public static var roomIdPattern: String { "^[\(roomIdCharacters)]+$" }
    /// Longest presence room id or notification category.
    public static let maxRoomIdLength = 64
    /// Longest server-side room name (`room:team-1`); uses the identifier characters.
    public static let maxServerRoomLength = 200

    /// Characters of a short name: broadcast or notification type, role, scope.
    public static let tokenCharacters = "A-Za-z0-9._:-"
    /// Pattern of a short name.
    public static var tokenPattern: String { "^[\(tokenCharacters)]+$" }
    /// Longest short name, event name, message type or service name.
    public static let maxTokenLength = 64

    /// Pattern of an event name sent to clients.
    public static let eventNamePattern = "^[A-Za-z][A-Za-z0-9:_-]*$"
    /// Pattern of an envelope type (`namespace:name`).
    public static let messageTypePattern = "^[a-z][a-z0-9-]*:[a-z][a-z0-9-]*$"
    /// Pattern of a service name.
    public static let serviceNamePattern = "^[a-z][a-z0-9-]*$"
    /// Pattern of a snake_case reason code.
    public static let reasonCodePattern = "^[a-z][a-z0-9_]*$"
    /// Pattern of a timestamp: RFC 3339, UTC, milliseconds.
    public static let timestampPattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$"
    /// Pattern of a UUID.
    public static let uuidPattern =
        "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
    /// Pattern of base64url text (optional padding).
    public static let base64urlPattern = "^[A-Za-z0-9_-]+={0,2}$"
    /// Pattern of standard base64 with padding.
    public static let base64Pattern = "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
    /// Pattern of a JWK EC P-256 coordinate (32 bytes, base64url, no padding).
    public static let jwkCoordinatePattern = "^[A-Za-z0-9_-]{43}$"
    /// Characters of an IP address as the gateway saw it (IPv4, IPv6, zone).
    public static let ipAddressCharacters = "0-9A-Za-z:.%_-"
    /// Pattern of an IP address.
    public static var ipAddressPattern: String { "^[\(ipAddressCharacters)]+$" }
    /// Longest IP address.
    public static let maxIPAddressLength = 64
    /// Characters of a Kafka topic name.
    public static let topicNameCharacters = "A-Za-z0-9._-"
    /// Pattern of a Kafka topic name.
    public static var topicNamePattern: String { "^[\(topicNameCharacters)]+$" }
    /// Longest Kafka topic name.
    public static let maxTopicNameLength = 249

    /// Longest challenge (base64url).
    public static let maxChallengeLength = 128
    /// Longest signature (base64url; DER P-256 is at most 72 bytes).
    public static let maxSignatureLength = 256
    /// Longest `session:create` deviceInfo.
    public static let maxDeviceInfoLength = 512
    /// Longest notification title.
    public static let maxTitleLength = 200
    /// Longest notification body.
    public static let maxBodyLength = 4000
    /// Longest human-readable reason (disconnect, control).
    public static let maxReasonLength = 256
    /// Longest dead-letter error text.
    public static let maxErrorLength = 4096
    /// Longest Prometheus text in a metrics snapshot.
    public static let maxMetricsTextLength = 900_000

    /// Most users in `broadcast:to-users`.
    public static let maxTargetUsers = 100
    /// Most categories in `notification:subscribe`.
    public static let maxCategories = 32
    /// Most roles in a principal or record.
    public static let maxRoles = 32
    /// Most scopes in a principal.
    public static let maxScopes = 64
    /// Most presence rooms in a principal.
    public static let maxPrincipalRooms = 100
    /// Rooms (and, separately, stream grants) one recoverable socket may hold in a `connection:rooms` record.
    public static let maxSocketRooms = 500
    /// Most devices of a biometric record.
    public static let maxDeviceIds = 64
    /// Largest `notification:get-unread` limit.
    public static let maxUnreadLimit = 100
    /// Most sockets listed in one `gateway:liveness`.
    public static let maxLivenessSockets = 5000
    /// Longest reporting interval (liveness, metrics), seconds.
    public static let maxIntervalSeconds = 3600

    /// Most properties of a free-form object (top level).
    public static let maxFreeformProperties = 64
    /// Most items of a free-form array (top level).
    public static let maxFreeformItems = 256
    /// Longest free-form string (top level).
    public static let maxFreeformStringLength = 16_384

    /// Most headers of a dead-letter entry.
    public static let maxDeadLetterHeaders = 64
    /// Longest dead-letter header name.
    public static let maxDeadLetterHeaderNameLength = 256
    /// Longest dead-letter header value.
    public static let maxDeadLetterHeaderValueLength = 4096
    /// Longest dead-letter key (base64 characters).
    public static let maxDeadLetterKeyLength = 4096
    /// Most bytes of the original value kept in a dead-letter entry (base64 ≤ 800000 characters).
    public static let maxDeadLetterValueBytes = 600_000
    /// Longest dead-letter value (base64 characters).
    public static let maxDeadLetterValueLength = 800_000
    /// Largest Socket.IO acknowledgement id (2^53 - 1, exact in JSON numbers).
    public static let maxAckId = 9_007_199_254_740_991
    /// Largest Socket.IO attachment index in a binary placeholder.
    public static let maxAttachmentIndex = 15

    /// Category of a notification that names none.
    public static let defaultNotificationCategory = "general"
}
