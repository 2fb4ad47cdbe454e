/// Where a service answers a client command: the socket that sent it (on its gateway), with the client's ack when
/// it asked for one. Built from the envelope's principal and `reply`.
public struct ReplyRoute: Sendable, Hashable {
    /// The socket that sent the command.
    public var socketId: String?
    /// The gateway holding it.
    public var gatewayId: String?
    /// The Socket.IO ack id, when the client asked for an ack.
    public var ackId: Int?

    /// The route of a command with this principal and `reply`.
    public init(principal: Principal, reply: ReplyTo?) {
        socketId = reply?.socketId ?? principal.socketId
        gatewayId = reply?.gatewayId ?? principal.gatewayId
        ackId = reply?.ackId
    }

    /// Event `name` to the socket, also answering its ack (unless `answersAck` is false); nil without a socket.
    public func event(_ name: ServerEvent, _ data: JSONValue, answersAck: Bool = true) -> Delivery? {
        socketId.map {
            Delivery.event(name.rawValue, data: data, to: .socket($0), ackId: answersAck ? ackId : nil,
                           gatewayId: gatewayId)
        }
    }

    /// A control for the socket; nil without a socket.
    public func control(_ control: DeliveryControl) -> Delivery? {
        socketId.map { Delivery.control(control, to: .socket($0), gatewayId: gatewayId) }
    }

    /// Answers the client's ack (when it asked) without emitting an event.
    public func ack(_ data: JSONValue) -> Delivery? {
        guard let ackId else { return nil }
        return control(DeliveryControl(action: .ack, ackId: ackId, data: data))
    }
}
