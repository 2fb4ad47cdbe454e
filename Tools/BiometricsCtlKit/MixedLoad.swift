import BiometricsClient
import Crypto
import Foundation
import Logging
import Messages
import SocketIO
import Synchronization

/// The operations of the mixed load.
enum LoadOperationKind: String, Sendable, CaseIterable, Codable {
    case verify, notify, session, presence, frame
}

/// One finished operation (times in seconds since the load started); `error` is `nil` when it was acknowledged.
struct LoadOperationRecord: Sendable {
    var kind: LoadOperationKind
    var client: Int
    var start: Double
    var end: Double
    var error: String?
}

/// A client's connection changed (seconds since the load started).
struct ConnectionEvent: Sendable {
    /// Down (the socket dropped) or up again.
    enum Change: Sendable { case down, up(recovered: Bool) }
    var client: Int
    var at: Double
    var change: Change
}

/// What the mixed load did since the ledger was last taken: every operation's outcome and everything that was
/// acknowledged, so that afterwards nothing acknowledged can go missing unnoticed.
struct LoadLedger: Sendable {
    /// Every operation.
    var operations: [LoadOperationRecord] = []
    /// Connection changes.
    var connections: [ConnectionEvent] = []
    /// Acknowledged notifications: marker (`data.op`) → target user.
    var notificationsAcked: [String: String] = [:]
    /// Notifications sent without an answer (they may exist or not): marker → target user.
    var notificationsUncertain: [String: String] = [:]
    /// `notification:new` pushes per notification id (more than one: a duplicate the client must absorb by id).
    var notificationPushes: [String: Int] = [:]
    /// Answered verifies per user (the worker decided and published its audit record).
    var verifiesAnswered: [String: Int] = [:]
    /// Verifies sent without an answer, per user.
    var verifiesUncertain: [String: Int] = [:]
    /// Verifies answered `unavailable` (no decision, no audit record: the client is told to try again).
    var verifiesUnavailable = 0
    /// Sessions created (acknowledged) and later checked with `session:list`.
    var sessionsCreated = 0
    var sessionsChecked = 0
    /// Sessions missing from `session:list` although their socket never dropped: `client/sessionId`.
    var sessionsLost: [String] = []
    /// Frames published and frames received back (best effort: frames are dropped first under back-pressure).
    var framesSent = 0
    var framesReceived = 0
    /// Clients replaced by a fresh connection (connection churn).
    var churned = 0

    /// Adds `other` (a later ledger) to this one.
    mutating func merge(_ other: LoadLedger) {
        operations += other.operations
        connections += other.connections
        notificationsAcked.merge(other.notificationsAcked) { $1 }
        notificationsUncertain.merge(other.notificationsUncertain) { $1 }
        notificationPushes.merge(other.notificationPushes) { $0 + $1 }
        verifiesAnswered.merge(other.verifiesAnswered) { $0 + $1 }
        verifiesUncertain.merge(other.verifiesUncertain) { $0 + $1 }
        verifiesUnavailable += other.verifiesUnavailable
        sessionsCreated += other.sessionsCreated
        sessionsChecked += other.sessionsChecked
        sessionsLost += other.sessionsLost
        framesSent += other.framesSent
        framesReceived += other.framesReceived
        churned += other.churned
    }
}

/// How the mixed load runs.
struct MixedLoadOptions: Sendable {
    /// Clients (one per stack user, spread over the gateways).
    var clients: Int
    /// Each client does one round (verify, notify, presence, session, frame) this often.
    var roundInterval: Duration = .seconds(1)
    /// Chance per round that a client closes its connection and opens a new one (connection churn).
    var churnProbability = 0.0
    /// How long a request waits for its answer.
    var ackTimeout: Duration = .seconds(10)
}

/// N ``BiometricsClient``s (reconnecting, re-subscribing, recovering) doing verifies with enrolled ES256 records,
/// notifications to a peer, presence changes, sessions and frames at a fixed modest rate, recording every outcome
/// in a ``LoadLedger``. ``pause()`` waits for rounds in flight, so the ledger can be checked while nothing moves.
final class MixedLoad: Sendable {
    /// One client's mutable state (only its own loop and its observers touch it).
    private struct ClientState {
        var client: BiometricsClient
        var socket: String?
        /// Bumped whenever the socket drops: a session created in an older epoch may be gone legitimately.
        var epoch = 0
        var connected = false
        var session: (id: String, epoch: Int)?
        var streaming = false
        var observers: [Task<Void, Never>] = []
    }

    let options: MixedLoadOptions
    private let users: [StackUser]
    private let urls: [String]
    private let logger: Logger
    private let started = ContinuousClock.now
    private let ledger = Mutex(LoadLedger())
    private let clients: Mutex<[ClientState]>
    private let control = Mutex<(paused: Bool, inFlight: Int, stopped: Bool)>((false, 0, false))
    private let loops = Mutex<[Task<Void, Never>]>([])

    /// Creates the load: client `i` is user `i`, connected to gateway `urls[i % urls.count]`.
    init(options: MixedLoadOptions, users: [StackUser], gatewayURLs urls: [String], logger: Logger) {
        self.options = options
        self.users = users
        self.urls = urls
        self.logger = logger
        clients = Mutex([])
    }

    /// Seconds since the load was created.
    func now() -> Double { (ContinuousClock.now - started).seconds }

    /// The gateway URL of client `index`.
    func url(of index: Int) -> String { urls[index % urls.count] }

    /// Connects every client (waits until each is connected) and starts their loops.
    func start() async throws {
        var states: [ClientState] = []
        for index in 0..<options.clients { states.append(ClientState(client: makeClient(index))) }
        clients.withLock { $0 = states }
        for index in 0..<options.clients { observe(index) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for state in states { group.addTask { try await state.client.waitUntilConnected(timeout: .seconds(60)) } }
            try await group.waitForAll()
        }
        let tasks = (0..<options.clients).map { index in Task { await self.loop(index) } }
        loops.withLock { $0 = tasks }
    }

    /// Stops the loops and closes every client.
    func stop() async {
        control.withLock { $0.stopped = true }
        for task in loops.withLock({ $0 }) { task.cancel() }
        for task in loops.withLock({ $0 }) { await task.value }
        let states = clients.withLock { $0 }
        for state in states {
            for observer in state.observers { observer.cancel() }
            await state.client.close()
        }
    }

    /// Lets no new round start and waits (up to `timeout`) until the rounds in flight are done.
    func pause(timeout: Duration = .seconds(60)) async {
        control.withLock { $0.paused = true }
        let deadline = ContinuousClock.now + timeout
        while control.withLock({ $0.inFlight }) > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Lets rounds start again.
    func resume() { control.withLock { $0.paused = false } }

    /// The ledger since the last call, replaced by an empty one.
    func takeLedger() -> LoadLedger {
        ledger.withLock { ledger in
            defer { ledger = LoadLedger() }
            return ledger
        }
    }

    /// How many clients are connected now.
    var connectedClients: Int { clients.withLock { $0.filter(\.connected).count } }

    /// Every acknowledged-notification marker found in the users' unread lists (count per marker), read page by
    /// page through the clients; then marks them read, so the next check starts empty.
    func readBackNotifications() async throws -> [String: Int] {
        var found: [String: Int] = [:]
        for index in 0..<options.clients {
            let client = clients.withLock { $0[index].client }
            var before: String?
            repeat {
                var payload: SocketIOObject = ["limit": 100]
                if let before { payload["before"] = .string(before) }
                let answer = try await client.request("notification:get-unread", .object(payload), timeout: .seconds(30))
                guard let list = answer["notifications"]?.arrayValue else {
                    throw BenchError("notification:get-unread answered \(answer.jsonString.prefix(200))")
                }
                for notification in list {
                    if let marker = notification["data"]?["op"]?.stringValue { found[marker, default: 0] += 1 }
                }
                before = answer["nextCursor"]?.stringValue
            } while before != nil
            _ = try await client.request("notification:mark-all-read", [:], timeout: .seconds(30))
        }
        return found
    }

    // MARK: Clients

    private func makeClient(_ index: Int) -> BiometricsClient {
        let token = users[index].token
        var configuration = BiometricsClientConfiguration(url: url(of: index)) { token }
        configuration.reconnect = ReconnectPolicy(initialDelay: .milliseconds(500), maxDelay: .seconds(2))
        configuration.ackTimeout = options.ackTimeout
        var clientLogger = logger
        clientLogger.logLevel = .error
        let client = BiometricsClient(configuration: configuration, logger: clientLogger)
        client.start()
        return client
    }

    /// Follows client `index`'s connection state, frames and notification pushes.
    private func observe(_ index: Int) {
        let client = clients.withLock { $0[index].client }
        let states = Task {
            for await state in client.states() {
                let at = now()
                switch state {
                case .connected(let socket, let recovered):
                    let wasDown = clients.withLock { clients -> Bool in
                        guard clients[index].client === client else { return false }
                        defer {
                            clients[index].connected = true
                            clients[index].socket = socket
                        }
                        return clients[index].socket != nil && !clients[index].connected
                    }
                    if wasDown {
                        ledger.withLock {
                            $0.connections.append(ConnectionEvent(client: index, at: at, change: .up(recovered: recovered)))
                        }
                    }
                case .reconnecting, .disconnected:
                    let wasUp = clients.withLock { clients -> Bool in
                        guard clients[index].client === client, clients[index].connected else { return false }
                        clients[index].connected = false
                        clients[index].epoch += 1
                        return true
                    }
                    if wasUp { ledger.withLock { $0.connections.append(ConnectionEvent(client: index, at: at, change: .down)) } }
                case .connecting:
                    break
                }
            }
        }
        let frames = Task {
            for await _ in client.streamFrames() { ledger.withLock { $0.framesReceived += 1 } }
        }
        let pushes = Task {
            for await push in client.pushes(named: ["notification:new"]) {
                if let id = (push.payload["notification"] ?? push.payload)["id"]?.stringValue {
                    ledger.withLock { $0.notificationPushes[id, default: 0] += 1 }
                }
            }
        }
        clients.withLock { $0[index].observers = [states, frames, pushes] }
    }

    /// Replaces client `index` with a fresh connection (connection churn).
    private func churn(_ index: Int) async {
        let old = clients.withLock { $0[index] }
        for observer in old.observers { observer.cancel() }
        await old.client.close()
        let fresh = makeClient(index)
        clients.withLock { $0[index] = ClientState(client: fresh) }
        observe(index)
        ledger.withLock { $0.churned += 1 }
        try? await fresh.waitUntilConnected(timeout: .seconds(30))
    }

    // MARK: Rounds

    private func loop(_ index: Int) async {
        // Spread the clients over the first interval.
        try? await Task.sleep(for: options.roundInterval * (Double(index) / Double(max(options.clients, 1))))
        var round = 0
        while !Task.isCancelled {
            let mayRun = control.withLock { control -> Bool in
                guard !control.paused, !control.stopped else { return false }
                control.inFlight += 1
                return true
            }
            guard mayRun else {
                try? await Task.sleep(for: .milliseconds(100))
                continue
            }
            let begin = ContinuousClock.now
            if options.churnProbability > 0, Double.random(in: 0..<1) < options.churnProbability { await churn(index) }
            await oneRound(index, round: round)
            control.withLock { $0.inFlight -= 1 }
            round += 1
            let rest = options.roundInterval - (ContinuousClock.now - begin)
            if rest > .zero { try? await Task.sleep(for: rest) }
        }
    }

    private func oneRound(_ index: Int, round: Int) async {
        let client = clients.withLock { $0[index].client }
        let user = users[index]
        await verify(index, client, user)
        await notify(index, client, target: users[(index + 1) % users.count].id)
        await operation(.presence, index) {
            try await client.updatePresence(round % 2 == 0 ? "away" : "online")
        }
        await session(index, client)
        await frame(index, client, device: ServiceStack.device(of: user.id), round: round)
    }

    private func verify(_ index: Int, _ client: BiometricsClient, _ user: StackUser) async {
        var sent = false
        var answered = false
        var unavailable = false
        await operation(.verify, index) {
            let issued = try await client.challenge(record: user.id)
            guard let bytes = Base64URL.decode(issued.challenge) else { throw BenchError("challenge is not base64url") }
            let signature = Base64URL.encode(try user.key.signature(for: Data(bytes)).rawRepresentation)
            sent = true
            let result = try await client.verify(record: user.id, challenge: issued.challenge, signature: signature)
            // `unavailable` is answered before any decision (Redis or Kafka failed; the command went to deadletter):
            // there is no audit record for it, and the client is told to try again.
            unavailable = result.reason == "unavailable"
            answered = !unavailable
            if !result.success { throw BenchError("verify:\(result.reason)") }
        }
        ledger.withLock { ledger in
            if unavailable {
                ledger.verifiesUnavailable += 1
            } else if answered {
                ledger.verifiesAnswered[user.id, default: 0] += 1
            } else if sent {
                // Sent, then no answer (timeout, connection lost): the worker may or may not have decided.
                ledger.verifiesUncertain[user.id, default: 0] += 1
            }
        }
    }

    private func notify(_ index: Int, _ client: BiometricsClient, target: String) async {
        let marker = UUID().uuidString
        var answered = false
        let ok = await operation(.notify, index) {
            let answer = try await client.request("notification:send", [
                "targetUserId": .string(target), "type": "chaos", "title": "load", "body": "mixed load",
                "data": ["op": .string(marker)],
            ])
            answered = true
            guard answer["notificationId"]?.stringValue != nil else {
                throw BenchError("notification:\(answer["reason"]?.stringValue ?? answer.jsonString.prefix(80).description)")
            }
        }
        ledger.withLock { ledger in
            if ok { ledger.notificationsAcked[marker] = target } else if !answered { ledger.notificationsUncertain[marker] = target }
        }
    }

    private func session(_ index: Int, _ client: BiometricsClient) async {
        let (socket, epoch, session) = clients.withLock { ($0[index].socket, $0[index].epoch, $0[index].session) }
        await operation(.session, index) {
            if let session, session.epoch == epoch {
                let sessions = try await client.sessions()
                let stillSameSocket = clients.withLock { $0[index].epoch == epoch && $0[index].client === client }
                ledger.withLock { $0.sessionsChecked += 1 }
                if stillSameSocket, !sessions.contains(where: { $0.id == session.id }) {
                    ledger.withLock { $0.sessionsLost.append("\(index)/\(session.id)") }
                    clients.withLock { $0[index].session = nil }
                    throw BenchError("session:lost")
                }
                return
            }
            // A new socket (or a recovered one that kept its session): adopt its session or create one.
            let existing = try await client.sessions().first { $0.socketId == socket }
            let id: String
            if let existing { id = existing.id } else { id = try await client.createSession(deviceInfo: "mixed-load-\(index)").id }
            if existing == nil { ledger.withLock { $0.sessionsCreated += 1 } }
            clients.withLock { if $0[index].client === client { $0[index].session = (id, epoch) } }
        }
    }

    private func frame(_ index: Int, _ client: BiometricsClient, device: String, round: Int) async {
        let streaming = clients.withLock { $0[index].streaming }
        await operation(.frame, index) {
            if !streaming {
                try await client.startStream(device: device)
                clients.withLock { if $0[index].client === client { $0[index].streaming = true } }
                return
            }
            var bytes = Data(count: 64)
            bytes[0] = UInt8(truncatingIfNeeded: round)
            try client.sendFrame(bytes, device: device)
            ledger.withLock { $0.framesSent += 1 }
        }
    }

    /// Runs one operation and records it; `true` when it succeeded.
    @discardableResult
    private func operation(_ kind: LoadOperationKind, _ index: Int, _ body: () async throws -> Void) async -> Bool {
        let start = now()
        var failure: String?
        do {
            try await body()
        } catch let error as BiometricsClientError {
            // The reason code when the server gave one, else the (bounded) message: what the client saw.
            failure = error.code.rawValue + ":" + (error.reason ?? String(error.message.prefix(60)))
        } catch {
            failure = "\(error)"
        }
        let record = LoadOperationRecord(kind: kind, client: index, start: start, end: now(), error: failure)
        ledger.withLock { $0.operations.append(record) }
        return failure == nil
    }
}
