import Foundation
import Messages
import Runtime

/// The stock python-socketio client, driven by a JSON plan through `Tests/Peers/sio_peer.py`: an independent
/// Socket.IO peer for end-to-end tests. The plan's vocabulary (clients, steps, `collect_seconds`) is documented at
/// the top of that script.
public enum SocketIOPeer {
    /// Runs one plan against the gateway at `url` and returns what each client saw, by client name.
    ///
    /// `trustedCertificate` is a CA file for `https` gateways. Throws with the script's stderr when it fails.
    public static func run(
        url: String, path: String = "/ws", clients: [[String: Any]], steps: [[String: Any]] = [],
        collectSeconds: Double = 1, trustedCertificate: String? = nil
    ) async throws -> [String: PeerClient] {
        var plan: [String: Any] = ["url": url, "path": path, "clients": clients, "steps": steps,
                                   "collect_seconds": collectSeconds]
        if let trustedCertificate { plan["ca_file"] = trustedCertificate }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sio-peer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let planFile = directory.appendingPathComponent("plan.json")
        try JSONSerialization.data(withJSONObject: plan).write(to: planFile)
        let output = directory.appendingPathComponent("out.json")
        let errors = directory.appendingPathComponent("err.txt")
        let peer = try ChildProcess(
            executable: try RepoPaths.python().path, arguments: [script.path, planFile.path],
            standardOutput: .file(output, append: false), standardError: .file(errors, append: false))
        let status = await peer.waitForExit()
        let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        guard status.isSuccess,
              let json = (try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)))?.objectValue
        else {
            let stderr = (try? String(contentsOf: errors, encoding: .utf8)) ?? ""
            throw FixtureError("python-socketio peer failed (\(status)): \(stderr.suffix(2000))")
        }
        return json.mapValues(PeerClient.init)
    }

    /// `Tests/Peers/sio_peer.py`.
    public static var script: URL { RepoPaths.root.appendingPathComponent("Tests/Peers/sio_peer.py") }
}

/// What one python-socketio client saw (bytes arrive as `{"$bytes": base64}`).
public struct PeerClient: Sendable {
    /// Whether the Socket.IO connect succeeded.
    public var connected: Bool
    /// The Socket.IO session id (the gateway's socket id).
    public var sid: String?
    /// The transport in use at the end (`websocket` or `polling`).
    public var transport: String?
    /// The CONNECT_ERROR message, if the connect was refused.
    public var connectError: String?
    /// Every event received, in order, with all its arguments.
    public var events: [(name: String, args: [JSONValue])]
    /// Every ack answer received, by the event it answered.
    public var acks: [(event: String, args: [JSONValue])]
    /// Whether the client was still connected when the plan ended.
    public var stillConnected: Bool
    /// Whether the server disconnected the client.
    public var disconnected: Bool

    /// Reads the script's JSON for one client.
    public init(_ json: JSONValue) {
        let object = json.objectValue ?? [:]
        connected = object["connected"]?.boolValue ?? false
        sid = object["sid"]?.stringValue
        transport = object["transport"]?.stringValue
        connectError = object["connect_error"]?.objectValue?["message"]?.stringValue
            ?? object["connect_error"]?.stringValue
        func entries(_ key: String) -> [(String, [JSONValue])] {
            (object[key]?.arrayValue ?? []).map { entry in
                let items = entry.arrayValue ?? []
                return (items.first?.stringValue ?? "", items.dropFirst().first?.arrayValue ?? [])
            }
        }
        events = entries("events")
        acks = entries("acks")
        stillConnected = object["still_connected"]?.boolValue ?? false
        disconnected = object["disconnected"]?.boolValue ?? false
    }

    /// The arguments of every event with this name.
    public func events(named name: String) -> [[JSONValue]] { events.filter { $0.name == name }.map(\.args) }

    /// The first argument (the payload) of every event with this name.
    public func payloads(named name: String) -> [JSONValue] {
        events.filter { $0.name == name }.compactMap(\.args.first)
    }

    /// The first argument of every ack answer for this event.
    public func acks(for event: String) -> [JSONValue] { acks.filter { $0.event == event }.compactMap(\.args.first) }
}

extension JSONValue {
    /// The bytes of a `{"$bytes": base64}` value from the peer.
    public var peerBytes: Data? { objectValue?["$bytes"]?.stringValue.flatMap { Data(base64Encoded: $0) } }
}
