import Messages

/// Decides, delivery by delivery, what a recovering socket missed: the events that target it (its socket id, its
/// user, the rooms it was in at that point, everyone) and the join/leave/grant controls that changed its rooms.
///
/// Pure: fed the deliveries read back from Kafka in partition order; the session sends the result.
struct RecoveryReplay: Sendable {
    let socketId: String
    let userId: String
    /// Rooms besides `user:<id>` (and `admin`), as restored and then changed by the replayed controls.
    private(set) var rooms: Set<String>
    /// Devices the socket may publish frames for.
    private(set) var streams: Set<String>
    /// A `disconnect` control targeted the socket while it was away: it must not come back.
    private(set) var disconnected = false
    /// The events to send, in order, each with the position just past it (the client's new recovery offset).
    private(set) var events: [(event: DeliveryEvent, position: DeliveryPosition)] = []
    /// How far the read-back has come.
    private(set) var position: DeliveryPosition
    private let isAdmin: Bool

    init(socketId: String, userId: String, isAdmin: Bool, rooms: some Sequence<String>, streams: some Sequence<String>,
         from: DeliveryPosition) {
        self.socketId = socketId
        self.userId = userId
        self.isAdmin = isAdmin
        self.rooms = Set(rooms)
        self.streams = Set(streams)
        position = from
    }

    /// Applies the delivery at `offset` of `partition` (`nil` when it could not be decoded: only the position moves).
    mutating func apply(_ delivery: Delivery?, partition: Int32, offset: Int64) {
        position.advance(partition: partition, past: offset)
        guard let delivery, targets(delivery.target) else { return }
        switch delivery.content {
        case .event(let event):
            // The ack it may answer belonged to the old connection; the client already gave up on it.
            events.append((DeliveryEvent(name: event.name, data: event.data), position))
        case .control(let control):
            switch control.action {
            case .join: if let room = control.room { rooms.insert(room) }
            case .leave: if let room = control.room { rooms.remove(room) }
            case .grantStream:
                if let device = control.deviceId {
                    streams.insert(device)
                    rooms.insert(Rooms.stream(device))
                }
            case .revokeStream:
                if let device = control.deviceId {
                    streams.remove(device)
                    rooms.remove(Rooms.stream(device))
                }
            case .disconnect: disconnected = true
            case .ack: break
            }
        }
    }

    private func targets(_ target: DeliveryTarget) -> Bool {
        if target.exceptSocketId == socketId { return false }
        switch target.kind {
        case .socket: return target.id == socketId
        case .user: return target.id == userId
        case .room:
            guard let room = target.id else { return false }
            return rooms.contains(room) || room == Rooms.user(userId) || (isAdmin && room == Rooms.admin)
        case .all: return true
        }
    }
}
