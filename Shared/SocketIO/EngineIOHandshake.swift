/// The payload of the Engine.IO OPEN packet (engine.io-protocol v4, "Handshake").
public struct EngineIOHandshake: Sendable, Hashable {
    /// The session id the client repeats in every later request (`sid` query parameter).
    public var sid: String
    /// The transports the client may upgrade to (`["websocket"]` for polling, `[]` for WebSocket).
    public var upgrades: [String]
    /// Milliseconds between server pings.
    public var pingInterval: Int
    /// Milliseconds the server waits for a pong.
    public var pingTimeout: Int
    /// Maximum bytes per payload the client may send.
    public var maxPayload: Int

    /// Creates a handshake.
    public init(sid: String, upgrades: [String], pingInterval: Int, pingTimeout: Int, maxPayload: Int) {
        self.sid = sid
        self.upgrades = upgrades
        self.pingInterval = pingInterval
        self.pingTimeout = pingTimeout
        self.maxPayload = maxPayload
    }

    /// The JSON object with exactly `sid, upgrades, pingInterval, pingTimeout, maxPayload`, in that order.
    public var json: String {
        var object = SocketIOObject()
        object["sid"] = .string(sid)
        object["upgrades"] = .array(upgrades.map { .string($0) })
        object["pingInterval"] = .number(Double(pingInterval))
        object["pingTimeout"] = .number(Double(pingTimeout))
        object["maxPayload"] = .number(Double(maxPayload))
        return SocketIOValue.object(object).jsonString
    }

    /// Parses the OPEN payload; all five keys are required with their documented types.
    public init(json: String) throws(SocketIOError) {
        let value: SocketIOValue
        do { value = try SocketIOValue(json: json, maxDepth: 4) } catch {
            throw SocketIOError(.invalidHandshake, "handshake is not JSON: \(error.message)")
        }
        guard let object = value.objectValue,
            let sid = object["sid"]?.stringValue,
            let upgrades = object["upgrades"]?.arrayValue,
            let pingInterval = object["pingInterval"]?.intValue,
            let pingTimeout = object["pingTimeout"]?.intValue,
            let maxPayload = object["maxPayload"]?.intValue
        else { throw SocketIOError(.invalidHandshake, "handshake lacks sid, upgrades, pingInterval, pingTimeout or maxPayload") }
        var names: [String] = []
        for upgrade in upgrades {
            guard let name = upgrade.stringValue else { throw SocketIOError(.invalidHandshake, "upgrades must be strings") }
            names.append(name)
        }
        self.init(sid: sid, upgrades: names, pingInterval: pingInterval, pingTimeout: pingTimeout, maxPayload: maxPayload)
    }
}
