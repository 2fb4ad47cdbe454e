/// Who receives a delivery: a socket, a user's sockets, a room's sockets or every socket.
public struct DeliveryTarget: ValidatedMessage, Hashable {
    /// The kind of target.
    public enum Kind: String, Codable, Sendable, Hashable, CaseIterable {
        /// One socket, by socket id.
        case socket
        /// Every socket of a user, by user id.
        case user
        /// Every socket in a server room (`room:team-1`, `biometric:r1`).
        case room
        /// Every socket (no id).
        case all

        /// Decodes, naming the field and the allowed values on error.
        public init(from decoder: any Decoder) throws {
            self = try StrictEnum.decode(Self.self, from: decoder)
        }
    }

    /// The kind of target.
    public var kind: Kind
    /// Socket id, user id or server room name; absent for `all`.
    public var id: String?
    /// A socket to leave out (e.g. `session:new` goes to the user's other sockets).
    public var exceptSocketId: String?

    /// Creates a target.
    public init(kind: Kind, id: String?, exceptSocketId: String? = nil) {
        self.kind = kind
        self.id = id
        self.exceptSocketId = exceptSocketId
    }

    /// One socket.
    public static func socket(_ socketId: String) -> DeliveryTarget {
        DeliveryTarget(kind: .socket, id: socketId)
    }

    /// Every socket of a user, optionally but one.
    public static func user(_ userId: String, except socketId: String? = nil) -> DeliveryTarget {
        DeliveryTarget(kind: .user, id: userId, exceptSocketId: socketId)
    }

    /// Every socket in a server room (see `Rooms`), optionally but one.
    public static func room(_ room: String, except socketId: String? = nil) -> DeliveryTarget {
        DeliveryTarget(kind: .room, id: room, exceptSocketId: socketId)
    }

    /// Every socket, optionally but one.
    public static func all(except socketId: String? = nil) -> DeliveryTarget {
        DeliveryTarget(kind: .all, id: nil, exceptSocketId: socketId)
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case kind, id, exceptSocketId }

    /// Decodes strictly and validates.
    public init(from decoder: any Decoder) throws {
        let c = try StrictContainer<CodingKeys>(decoder)
        self.init(kind: try c.required(.kind), id: try c.optional(.id), exceptSocketId: try c.optional(.exceptSocketId))
        try validate(at: decoder)
    }

    /// Encodes the fields; absent optionals are omitted.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kind, forKey: .kind)
        try c.encodeIfPresent(id, forKey: .id)
        try c.encodeIfPresent(exceptSocketId, forKey: .exceptSocketId)
    }

    /// `id` is absent for `all`, an id for `socket`/`user`, a server room name for `room`.
    public func validate() throws(MessageError) {
        switch (kind, id) {
        case (.all, nil):
            break
        case (.all, .some):
            throw MessageError(.invalidValue, field: "id", "must be absent when kind is all")
        case (_, nil):
            throw MessageError(.missingField, field: "id", "is required when kind is \(kind.rawValue)")
        case (.room, .some(let room)):
            try Check.serverRoom(room, "id")
        case (_, .some(let id)):
            try Check.id(id, "id")
        }
        try Check.id(exceptSocketId, "exceptSocketId")
    }
}
