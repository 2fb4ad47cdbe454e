/// Who acts: set by the gateway from the verified JWT (never from client input), or by a backend for itself.
public struct Principal: ValidatedMessage, Hashable {
    /// The user id (JWT `sub`), or the service name for a service principal.
    public var userId: String
    /// Roles (JWT `roles`).
    public var roles: [String]
    /// Scopes (JWT `scope`, split on spaces).
    public var scopes: [String]
    /// Presence room ids the token allows (JWT `rooms`).
    public var rooms: [String]?
    /// The socket that sent the event (gateway principals).
    public var socketId: String?
    /// The gateway holding the socket (gateway principals).
    public var gatewayId: String?
    /// The socket's session, once one exists.
    public var sessionId: String?
    /// The client address the gateway saw.
    public var remoteAddress: String?

    /// Creates a principal.
    public init(
        userId: String, roles: [String] = [], scopes: [String] = [], rooms: [String]? = nil, socketId: String? = nil,
        gatewayId: String? = nil, sessionId: String? = nil, remoteAddress: String? = nil
    ) {
        self.userId = userId
        self.roles = roles
        self.scopes = scopes
        self.rooms = rooms
        self.socketId = socketId
        self.gatewayId = gatewayId
        self.sessionId = sessionId
        self.remoteAddress = remoteAddress
    }

    /// Whether the principal has `role`.
    public func hasRole(_ role: String) -> Bool { roles.contains(role) }

    /// Whether the principal has `scope`.
    public func hasScope(_ scope: String) -> Bool { scopes.contains(scope) }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case userId, roles, scopes, rooms, socketId, gatewayId, sessionId, remoteAddress
    }

    /// Decodes strictly and validates.
    public init(from decoder: any Decoder) throws {
        let c = try StrictContainer<CodingKeys>(decoder)
        self.init(
            userId: try c.required(.userId), roles: try c.required(.roles), scopes: try c.required(.scopes),
            rooms: try c.optional(.rooms), socketId: try c.optional(.socketId), gatewayId: try c.optional(.gatewayId),
            sessionId: try c.optional(.sessionId), remoteAddress: try c.optional(.remoteAddress))
        try validate(at: decoder)
    }

    /// Checks ids, list sizes and name patterns.
    public func validate() throws(MessageError) {
        try Check.id(userId, "userId")
        try Check.count(roles.count, "roles", max: MessageLimits.maxRoles)
        try Check.each(roles, "roles", Check.token)
        try Check.count(scopes.count, "scopes", max: MessageLimits.maxScopes)
        try Check.each(scopes, "scopes", Check.token)
        if let rooms {
            try Check.count(rooms.count, "rooms", max: MessageLimits.maxPrincipalRooms)
            try Check.each(rooms, "rooms", Check.roomId)
        }
        try Check.id(socketId, "socketId")
        try Check.id(gatewayId, "gatewayId")
        try Check.id(sessionId, "sessionId")
        if let remoteAddress { try Check.ipAddress(remoteAddress, "remoteAddress") }
    }
}
