/// Every envelope payload type, to find a type's payload, topic and schema.
public enum MessageCatalog {
    /// All envelope payload types (client commands and server messages).
    public static let payloadTypes: [any MessagePayload.Type] = [
        BiometricSubscribe.self, BiometricUnsubscribe.self, BiometricChallenge.self, BiometricVerify.self,
        BiometricStreamStart.self, BiometricStreamStop.self,
        SessionCreate.self, SessionList.self, SessionEnd.self, SessionHeartbeat.self, SessionSync.self,
        PresenceUpdate.self, PresenceJoinRoom.self, PresenceLeaveRoom.self,
        BroadcastToUsers.self, BroadcastToRoom.self, BroadcastAdmin.self,
        NotificationGetUnread.self, NotificationMarkRead.self, NotificationMarkAllRead.self,
        NotificationSubscribe.self, NotificationSend.self, NotificationCreate.self,
        ConnectionConnected.self, ConnectionDisconnected.self, ConnectionRooms.self, GatewayLiveness.self,
        Delivery.self, BiometricRecord.self, BiometricVerification.self, ServiceMetrics.self, DeadLetter.self,
    ]

    private static let byType: [String: any MessagePayload.Type] = Dictionary(
        uniqueKeysWithValues: payloadTypes.map { ($0.messageType, $0) })

    /// The payload type of envelope type `type`.
    public static func payloadType(forType type: String) -> (any MessagePayload.Type)? {
        byType[type]
    }
}
