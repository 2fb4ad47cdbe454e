import Messages

/// Where a command's answers go: the socket that sent it, on its gateway, with its ack when it asked for one.
public struct ReplyAddress: Sendable, Hashable {
    /// The socket.
    public var socketId: String
    /// Its gateway.
    public var gatewayId: String
    /// The client's ack id, when it asked for an answer.
    public var ackId: Int?

    /// Creates an address.
    public init(socketId: String, gatewayId: String, ackId: Int? = nil) {
        self.socketId = socketId
        self.gatewayId = gatewayId
        self.ackId = ackId
    }

    /// `name` with `data` to the socket, answering its ack with the same data.
    public func event(_ name: ServerEvent, _ data: JSONValue) -> Delivery {
        Delivery.event(name.rawValue, data: data, to: .socket(socketId), ackId: ackId, gatewayId: gatewayId)
    }

    /// A control for the socket.
    public func control(_ control: DeliveryControl) -> Delivery {
        Delivery.control(control, to: .socket(socketId), gatewayId: gatewayId)
    }

    /// Answers the ack (when the client asked) without emitting an event.
    public func ack(_ data: JSONValue) -> Delivery? {
        ackId.map { control(DeliveryControl(action: .ack, ackId: $0, data: data)) }
    }
}
