/// `gateway:delivery` on gateway.deliveries: an event or a control for target sockets. Every gateway reads every
/// delivery; `gatewayId`, when set, addresses one gateway only.
public struct Delivery: MessagePayload {
    /// The envelope type.
    public static let messageType = "gateway:delivery"
    /// The topic it travels on.
    public static let topic = Topics.gatewayDeliveries
    /// Its payload schema.
    public static let schema = "messages/gateway.delivery.schema.json"

    /// What a delivery does: exactly one of an event and a control.
    public enum Content: Sendable, Hashable {
        /// Emit an event.
        case event(DeliveryEvent)
        /// Apply a control.
        case control(DeliveryControl)
    }

    /// Only this gateway acts on it, when set.
    public var gatewayId: String?
    /// Who receives it.
    public var target: DeliveryTarget
    /// What it does.
    public var content: Content

    /// Creates a delivery.
    public init(gatewayId: String? = nil, target: DeliveryTarget, content: Content) {
        self.gatewayId = gatewayId
        self.target = target
        self.content = content
    }

    /// A delivery that emits `name` with `data`, optionally also answering ack `ackId`.
    public static func event(
        _ name: String, data: JSONValue, to target: DeliveryTarget, ackId: Int? = nil, gatewayId: String? = nil
    ) -> Delivery {
        Delivery(
            gatewayId: gatewayId, target: target, content: .event(DeliveryEvent(name: name, data: data, ackId: ackId)))
    }

    /// A delivery that applies `control`.
    public static func control(_ control: DeliveryControl, to target: DeliveryTarget, gatewayId: String? = nil)
        -> Delivery
    {
        Delivery(gatewayId: gatewayId, target: target, content: .control(control))
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case gatewayId, target, event, control }

    /// Decodes strictly and validates; exactly one of `event` and `control` must be present.
    public init(from decoder: any Decoder) throws {
        let c = try StrictContainer<CodingKeys>(decoder)
        let event: DeliveryEvent? = try c.optional(.event)
        let control: DeliveryControl? = try c.optional(.control)
        let content: Content
        switch (event, control) {
        case (let event?, nil): content = .event(event)
        case (nil, let control?): content = .control(control)
        case (nil, nil):
            throw MessageError(
                .missingField, field: CodingPath.render(decoder.codingPath, CodingKeys.event),
                "event or control is required")
        case (.some, .some):
            throw MessageError(
                .invalidValue, field: CodingPath.render(decoder.codingPath), "must have only one of event and control")
        }
        self.init(gatewayId: try c.optional(.gatewayId), target: try c.required(.target), content: content)
        try validate(at: decoder)
    }

    /// Encodes `target`, `gatewayId` and `event` or `control`.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(gatewayId, forKey: .gatewayId)
        try c.encode(target, forKey: .target)
        switch content {
        case .event(let event): try c.encode(event, forKey: .event)
        case .control(let control): try c.encode(control, forKey: .control)
        }
    }

    /// Checks the gateway id, the target and the content.
    public func validate() throws(MessageError) {
        try Check.id(gatewayId, "gatewayId")
        try Check.nested(target, "target")
        switch content {
        case .event(let event): try Check.nested(event, "event")
        case .control(let control): try Check.nested(control, "control")
        }
    }
}
