/// `gateway:liveness` on gateway.connections: a gateway's periodic report of its live sockets.
///
/// Sent every `intervalSeconds`. A gateway silent for 3 intervals is dead and its sockets count as disconnected.
/// `sockets` lists every live socket when there are at most `MessageLimits.maxLivenessSockets`; presence then drops
/// the sockets it holds for this gateway that are not listed. Above that the list is omitted.
public struct GatewayLiveness: MessagePayload {
    /// The envelope type.
    public static let messageType = "gateway:liveness"
    /// The topic it travels on.
    public static let topic = Topics.gatewayConnections
    /// Its payload schema.
    public static let schema = "messages/gateway.liveness.schema.json"

    /// The reporting gateway.
    public var gatewayId: String
    /// Seconds until the next report.
    public var intervalSeconds: Int
    /// Sockets connected to this gateway.
    public var socketCount: Int
    /// Every live socket, when `socketCount` is at most 5000.
    public var sockets: [LivenessSocket]?

    /// Creates the payload.
    public init(gatewayId: String, intervalSeconds: Int, socketCount: Int, sockets: [LivenessSocket]? = nil) {
        self.gatewayId = gatewayId
        self.intervalSeconds = intervalSeconds
        self.socketCount = socketCount
        self.sockets = sockets
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case gatewayId, intervalSeconds, socketCount, sockets }

    /// Decodes strictly (unknown fields and explicit nulls are errors) and validates.
    public init(from decoder: any Decoder) throws {
        let c = try StrictContainer<CodingKeys>(decoder)
        self.init(
            gatewayId: try c.required(.gatewayId),
            intervalSeconds: try c.required(.intervalSeconds),
            socketCount: try c.required(.socketCount),
            sockets: try c.optional(.sockets))
        try validate(at: decoder)
    }

    /// Encodes the fields; absent optionals are omitted.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(gatewayId, forKey: .gatewayId)
        try c.encode(intervalSeconds, forKey: .intervalSeconds)
        try c.encode(socketCount, forKey: .socketCount)
        try c.encodeIfPresent(sockets, forKey: .sockets)
    }

    /// Checks bounds, patterns and enums.
    public func validate() throws(MessageError) {
        try Check.id(gatewayId, "gatewayId")
        try Check.range(intervalSeconds, "intervalSeconds", min: 1, max: MessageLimits.maxIntervalSeconds)
        try Check.range(socketCount, "socketCount", min: 0)
        if let sockets {
            try Check.count(sockets.count, "sockets", max: MessageLimits.maxLivenessSockets)
            try Check.nestedEach(sockets, "sockets")
        }
    }
}
