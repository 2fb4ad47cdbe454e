/// One live socket listed in `gateway:liveness`.
public struct LivenessSocket: ValidatedMessage, Hashable {
    /// The socket.
    public var socketId: String
    /// Its user.
    public var userId: String

    /// Creates the payload.
    public init(socketId: String, userId: String) {
        self.socketId = socketId
        self.userId = userId
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case socketId, userId }

    /// Decodes strictly (unknown fields and explicit nulls are errors) and validates.
    public init(from decoder: any Decoder) throws {
        let c = try StrictContainer<CodingKeys>(decoder)
        self.init(
            socketId: try c.required(.socketId),
            userId: try c.required(.userId))
        try validate(at: decoder)
    }

    /// Encodes the fields; absent optionals are omitted.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(socketId, forKey: .socketId)
        try c.encode(userId, forKey: .userId)
    }

    /// Checks bounds, patterns and enums.
    public func validate() throws(MessageError) {
        try Check.id(socketId, "socketId")
        try Check.id(userId, "userId")
    }
}
