import Foundation
import Logging
import Messages
import PresenceService
import Redis
import Testing
import TestSupport

/// The registry's scripts against a real redis-server, without Kafka: membership per socket, removal, liveness
/// reconciliation, dead gateways, sessions, memoized decisions.
@Suite("presence store (real redis-server)", .timeLimit(.minutes(2)))
struct PresenceStoreTests {
    static let settings = PresenceStore.Settings(
        keyTTL: .seconds(60), memoTTL: .seconds(600), defaultGrace: .seconds(30), sessionIdle: .seconds(300))

    func withStore(_ body: (PresenceStore) async throws -> Void) async throws {
        let server = try await RedisServerProcess.start()
        var logger = Logger(label: "presence-store-test")
        logger.logLevel = .warning
        let redis = try RedisClient(configuration: RedisConfiguration(url: server.url, poolSize: 2), logger: logger)
        do {
            try await body(PresenceStore(redis: redis, settings: Self.settings))
        } catch {
            await redis.close()
            try? await server.stop()
            throw error
        }
        await redis.close()
        try await server.stop()
    }

    func connect(_ store: PresenceStore, _ socket: String, user: String, gateway: String = "gw1",
                 at now: Date = Date()) async throws -> SocketArrival? {
        try await store.connected(
            ConnectionConnected(gatewayId: gateway, socketId: socket, userId: user, remoteAddress: "10.0.0.7",
                                connectedAt: now),
            id: UUID(), now: now)
    }

    func disconnect(_ store: PresenceStore, _ socket: String, user: String, gateway: String = "gw1",
                    at: Date = Date()) async throws -> [SocketRemoval]
    {
        try await store.disconnected(
            ConnectionDisconnected(gatewayId: gateway, socketId: socket, userId: user, reason: "transport close"),
            at: at, id: UUID())
    }

    @Test("two tabs: the user joins a room once, stays online and a member until the last tab leaves")
    func twoTabs() async throws {
        try await withStore { store in
            #expect(try await connect(store, "s1", user: "u1")?.online == true)
            #expect(try await connect(store, "s2", user: "u1", gateway: "gw2")?.online == false)
            let tab1 = SocketRef(socketId: "s1", userId: "u1", gatewayId: "gw1", sentAt: Date())
            let tab2 = SocketRef(socketId: "s2", userId: "u1", gatewayId: "gw2", sentAt: Date())
            let first = try await store.join("team-1", socket: tab1, id: UUID())
            #expect(first.newMember && first.members == ["u1"])
            let second = try await store.join("team-1", socket: tab2, id: UUID())
            #expect(!second.newMember && !second.closed)
            #expect(try await store.leave("team-1", socket: tab1, id: UUID()) == false, "the other tab is still in")
            #expect(try await store.isMember("team-1", userId: "u1"))
            #expect(try await store.join("team-1", socket: tab1, id: UUID()).newMember == false)

            let gone = try await disconnect(store, "s1", user: "u1")
            #expect(gone == [SocketRemoval(socketId: "s1", userId: "u1", gatewayId: "gw1")])
            let last = try await disconnect(store, "s2", user: "u1", gateway: "gw2")
            #expect(last == [SocketRemoval(socketId: "s2", userId: "u1", gatewayId: "gw2", leftRooms: ["team-1"],
                                           offline: true)])
            #expect(try await store.isMember("team-1", userId: "u1") == false)
            #expect(try await disconnect(store, "s2", user: "u1", gateway: "gw2").isEmpty, "a second disconnect is a no-op")
            let counts = try await store.counts()
            #expect(counts.sockets == 0 && counts.users == 0 && counts.rooms == 0)
        }
    }

    @Test("a redelivered record gets the decision made the first time, and changes nothing again")
    func memoizedDecisions() async throws {
        try await withStore { store in
            _ = try await connect(store, "s1", user: "u1")
            let socket = SocketRef(socketId: "s1", userId: "u1", gatewayId: "gw1", sentAt: Date())
            let id = UUID()
            let first = try await store.join("team-1", socket: socket, id: id)
            let again = try await store.join("team-1", socket: socket, id: id)
            #expect(first.newMember && again == first)

            let removalId = UUID()
            let event = ConnectionDisconnected(gatewayId: "gw1", socketId: "s1", userId: "u1", reason: "gone")
            let removed = try await store.disconnected(event, at: Date(), id: removalId)
            #expect(removed.first?.offline == true && removed.first?.leftRooms == ["team-1"])
            #expect(try await store.disconnected(event, at: Date(), id: removalId) == removed, "same deliveries on redelivery")

            #expect(try await store.isDone(removalId) == false)
            try await store.markDone(removalId)
            #expect(try await store.isDone(removalId))
        }
    }

    /// Socket s1 of u1 on gw1, connected 5 s ago and disconnected now; `sentAt(δ)` is a command of it relayed δ
    /// seconds after the disconnect.
    func closedSocket(_ store: PresenceStore) async throws
        -> (disconnectedAt: Date, sentAt: (TimeInterval) -> SocketRef)
    {
        let disconnectedAt = Date()
        _ = try await connect(store, "s1", user: "u1", at: disconnectedAt.addingTimeInterval(-5))
        _ = try await disconnect(store, "s1", user: "u1", at: disconnectedAt)
        return (disconnectedAt, { SocketRef(socketId: "s1", userId: "u1", gatewayId: "gw1",
                                            sentAt: disconnectedAt.addingTimeInterval($0)) })
    }

    @Test("a command from a socket that already disconnected changes nothing")
    func closedSocket() async throws {
        try await withStore { store in
            // Relayed before the disconnect, handled after it.
            let socket = try await closedSocket(store).sentAt(-0.001)
            #expect(try await store.join("team-1", socket: socket, id: UUID()).closed)
            #expect(try await store.setStatus(.away, socket: socket, id: UUID()) == nil)
            #expect(try await store.createSession(socket: socket, deviceInfo: "d", ipAddress: "1.2.3.4", id: UUID())
                    == .closed)
            #expect(try await store.counts().users == 0)
            // A command that arrives before the socket's connect record registers it.
            let early = SocketRef(socketId: "s9", userId: "u9", gatewayId: "gw1", sentAt: Date())
            let joined = try await store.join("team-1", socket: early, id: UUID())
            #expect(joined.online && joined.newMember)
            #expect(try await connect(store, "s9", user: "u9")?.online == false)
        }
    }

    @Test("a socket recovered on the gateway that closed it: its commands that overtake its connect record register it")
    func recoveredOnTheSameGateway() async throws {
        try await withStore { store in
            let closed = try await closedSocket(store)
            let disconnectedAt = closed.disconnectedAt
            let recovered = closed.sentAt(0.002)
            let joined = try await store.join("team-1", socket: recovered, id: UUID())
            #expect(!joined.closed && joined.online && joined.newMember)
            #expect(try await store.setStatus(.away, socket: recovered, id: UUID()) != nil)
            // Its connect record, handled later, finds it known; a command of the old incarnation stays refused
            // only while the tombstone stands, which the new incarnation removed.
            #expect(try await connect(store, "s1", user: "u1", at: disconnectedAt.addingTimeInterval(0.001))?.online == false)
            #expect(try await store.counts().sockets == 1)
            #expect(try await store.isMember("team-1", userId: "u1"))

            // A gateway that fell silent: removals date from its last report, so its sockets' later commands (a
            // restart with the same INSTANCE_ID recovering them) register them again.
            let reportedAt = Date()
            _ = try await store.liveness(GatewayLiveness(gatewayId: "gw1", intervalSeconds: 1, socketCount: 1), grace: .seconds(3),
                                         reportedAt: reportedAt, id: UUID(), now: reportedAt)
            #expect(try await store.expireGateway("gw1", now: reportedAt.addingTimeInterval(10))?.count == 1)
            let stale = SocketRef(socketId: "s1", userId: "u1", gatewayId: "gw1", sentAt: reportedAt)
            #expect(try await store.join("team-1", socket: stale, id: UUID()).closed, "sent no later than the last report")
            let restarted = SocketRef(socketId: "s1", userId: "u1", gatewayId: "gw1", sentAt: reportedAt.addingTimeInterval(8))
            #expect(try await store.join("team-1", socket: restarted, id: UUID()).closed == false)
        }
    }

    @Test("liveness drops unlisted sockets, registers unknown listed ones, and never revives a closed one")
    func livenessReconciles() async throws {
        try await withStore { store in
            let past = Date().addingTimeInterval(-10)
            _ = try await connect(store, "old", user: "u1", at: past)
            _ = try await connect(store, "kept", user: "u2", at: past)
            _ = try await connect(store, "closed", user: "u3", at: past)
            // Disconnected after the reports below were made: they are late, and list it still.
            _ = try await disconnect(store, "closed", user: "u3", at: Date().addingTimeInterval(60))
            let report = GatewayLiveness(gatewayId: "gw1", intervalSeconds: 1, socketCount: 3, sockets: [
                LivenessSocket(socketId: "kept", userId: "u2"), LivenessSocket(socketId: "rebuilt", userId: "u4"),
                LivenessSocket(socketId: "closed", userId: "u3"),
            ])
            let (removals, arrivals) = try await store.liveness(report, grace: .seconds(3), reportedAt: Date(), id: UUID())
            #expect(removals.map(\.socketId) == ["old"] && removals.first?.offline == true)
            #expect(arrivals == [SocketArrival(socketId: "rebuilt", userId: "u4", online: true)])
            #expect(try await store.redis.smembers("presence:gateway:gw1") == ["kept", "rebuilt"])

            // A socket that connected just before the report may be missing from its list: it is not dropped.
            _ = try await connect(store, "fresh", user: "u5")
            let stale = GatewayLiveness(gatewayId: "gw1", intervalSeconds: 1, socketCount: 2, sockets: [
                LivenessSocket(socketId: "kept", userId: "u2"), LivenessSocket(socketId: "rebuilt", userId: "u4"),
            ])
            let second = try await store.liveness(stale, grace: .seconds(3), reportedAt: Date(), id: UUID())
            #expect(second.removals.isEmpty && second.arrivals.isEmpty)

            // Without a list (over 5000 sockets) nothing is reconciled, only refreshed.
            let big = GatewayLiveness(gatewayId: "gw1", intervalSeconds: 1, socketCount: 6000)
            let third = try await store.liveness(big, grace: .seconds(3), reportedAt: Date(), id: UUID())
            #expect(third.removals.isEmpty && third.arrivals.isEmpty)
            #expect(try await store.counts().sockets == 3)
        }
    }

    @Test("a gateway silent past its deadline loses every socket; one that reported again keeps them")
    func silentGateway() async throws {
        try await withStore { store in
            _ = try await connect(store, "s1", user: "u1")
            _ = try await connect(store, "s2", user: "u2", gateway: "gw2")
            let socket = SocketRef(socketId: "s1", userId: "u1", gatewayId: "gw1", sentAt: Date())
            _ = try await store.join("team-1", socket: socket, id: UUID())
            _ = try await store.createSession(socket: socket, deviceInfo: "d", ipAddress: "1.2.3.4", id: UUID())
            // One clock for the whole test: a loaded machine must not turn "just reported" into "silent".
            let now = Date()
            for gateway in ["gw1", "gw2"] {
                _ = try await store.liveness(
                    GatewayLiveness(gatewayId: gateway, intervalSeconds: 1, socketCount: 1), grace: .seconds(3),
                    reportedAt: now, id: UUID(), now: now)
            }
            #expect(try await store.silentGateways(now: now).isEmpty)
            let later = now.addingTimeInterval(5)
            // gw2 reports again just in time; gw1 stays silent.
            _ = try await store.liveness(
                GatewayLiveness(gatewayId: "gw2", intervalSeconds: 1, socketCount: 1), grace: .seconds(3),
                reportedAt: later, id: UUID(), now: later)
            #expect(try await store.silentGateways(now: later) == ["gw1"])
            let removals = try #require(try await store.expireGateway("gw1", now: later))
            #expect(removals.count == 1)
            #expect(removals.first?.leftRooms == ["team-1"] && removals.first?.offline == true)
            #expect(removals.first?.endedSession != nil)
            #expect(try await store.expireGateway("gw2", now: later) == nil)
            #expect(try await store.expireGateway("gw1", now: later) == nil, "already gone")
            let counts = try await store.counts(now: later)
            #expect(counts.sockets == 1 && counts.users == 1 && counts.gateways == 1 && counts.sessions == 0)
        }
    }

    @Test("sessions: created with the gateway's address, listed, refreshed, ended only by their user")
    func sessions() async throws {
        try await withStore { store in
            _ = try await connect(store, "s1", user: "u1")
            _ = try await connect(store, "s2", user: "u1", gateway: "gw2")
            let socket = SocketRef(socketId: "s1", userId: "u1", gatewayId: "gw1", sentAt: Date())
            guard case .created(let session, _) = try await store.createSession(
                socket: socket, deviceInfo: "Firefox", ipAddress: "10.0.0.7", id: UUID()) else {
                Issue.record("no session created")
                return
            }
            let sessionId = try #require(session["id"]?.stringValue)
            #expect(session["userId"] == "u1" && session["ipAddress"] == "10.0.0.7" && session["socketId"] == "s1")
            #expect(session["gatewayId"] == "gw1" && session["deviceInfo"] == "Firefox")
            #expect(Set(session.objectValue?.keys.map { $0 } ?? []) == [
                "id", "userId", "deviceInfo", "ipAddress", "socketId", "gatewayId", "createdAt", "lastSeenAt"])
            #expect(try await store.createSession(socket: socket, deviceInfo: "x", ipAddress: "1.1.1.1", id: UUID())
                    == .existing(sessionId))
            #expect(try await store.sessions(userId: "u1").map { $0["id"] } == [.string(sessionId)])

            let later = Date().addingTimeInterval(2)
            let beat = try #require(try await store.heartbeat(socket: socket, id: UUID(), now: later))
            #expect(beat.sessionId == sessionId && beat.lastSeenAt == Timestamp.string(from: later))
            let other = SocketRef(socketId: "s2", userId: "u1", gatewayId: "gw2", sentAt: Date())
            #expect(try await store.heartbeat(socket: other, id: UUID()) == nil, "no session on that socket")

            #expect(try await store.endSession(sessionId, userId: "u2", id: UUID()) == nil, "someone else's session")
            let ended = try #require(try await store.endSession(sessionId, userId: "u1", id: UUID()))
            #expect(ended == EndedSession(sessionId: sessionId, socketId: "s1", gatewayId: "gw1"))
            #expect(try await store.sessions(userId: "u1").isEmpty)
            #expect(try await store.endSession(sessionId, userId: "u1", id: UUID()) == nil, "already ended")
        }
    }

    @Test("a recovered socket (same id, any gateway) is registered again and gets its presence rooms back once")
    func recoveredSocket() async throws {
        try await withStore { store in
            _ = try await connect(store, "s1", user: "u1")
            _ = try await store.join("team-1", socket: SocketRef(socketId: "s1", userId: "u1", gatewayId: "gw1", sentAt: Date()), id: UUID())
            #expect(try await disconnect(store, "s1", user: "u1").first?.leftRooms == ["team-1"])
            // The client recovers its socket on gw2; the gateway restores its rooms and reports them.
            #expect(try await connect(store, "s1", user: "u1", gateway: "gw2")?.online == true)
            let rooms = ConnectionRooms(gatewayId: "gw2", socketId: "s1", userId: "u1",
                                        rooms: ["biometric:r1", "room:team-1"], streams: [], disconnected: false)
            #expect(try await store.restoreRooms(rooms, id: UUID()) == ["team-1"])
            #expect(try await store.isMember("team-1", userId: "u1"))
            #expect(try await store.restoreRooms(rooms, id: UUID()).isEmpty, "only the first record after a recovery")
            let liveness = GatewayLiveness(gatewayId: "gw2", intervalSeconds: 1, socketCount: 1,
                                           sockets: [LivenessSocket(socketId: "s1", userId: "u1")])
            #expect(try await store.liveness(liveness, grace: .seconds(3), reportedAt: Date(), id: UUID()).removals.isEmpty)

            // Recovered on gw2 before gw1's disconnect record is read: that late record no longer removes it.
            _ = try await connect(store, "s2", user: "u2")
            _ = try await connect(store, "s2", user: "u2", gateway: "gw2")
            #expect(try await disconnect(store, "s2", user: "u2").isEmpty)
            #expect(try await store.redis.smembers("presence:gateway:gw2") == ["s1", "s2"])
            #expect(try await store.redis.smembers("presence:gateway:gw1").isEmpty)
            #expect(try await store.counts().users == 2)
            #expect(try await disconnect(store, "s2", user: "u2", gateway: "gw2").first?.offline == true)
        }
    }

    @Test("an idle session (no heartbeat for SESSION_IDLE_SECONDS) is no longer listed nor counted; locks are exclusive")
    func idleSessionsAndLocks() async throws {
        try await withStore { store in
            _ = try await connect(store, "s1", user: "u1")
            let socket = SocketRef(socketId: "s1", userId: "u1", gatewayId: "gw1", sentAt: Date())
            let start = Date()
            _ = try await store.createSession(socket: socket, deviceInfo: "d", ipAddress: "1.2.3.4", id: UUID(), now: start)
            let idle = Self.settings.sessionIdle
            let beforeIdle = start.addingTimeInterval(Double(idle.components.seconds) - 1)
            #expect(try await store.sessions(userId: "u1", now: beforeIdle).count == 1)
            #expect(try await store.counts(now: beforeIdle).sessions == 1)
            let afterIdle = start.addingTimeInterval(Double(idle.components.seconds) + 1)
            #expect(try await store.sessions(userId: "u1", now: afterIdle).isEmpty)
            #expect(try await store.counts(now: afterIdle).sessions == 0)

            #expect(try await store.acquire("health", owner: "p1", ttl: .seconds(5)))
            #expect(try await store.acquire("health", owner: "p2", ttl: .seconds(5)) == false, "one instance per interval")
            #expect(try await store.acquire("sweep:gw1", owner: "p2", ttl: .seconds(5)))
        }
    }

    @Test("broadcast:to-users reaches users sharing a room, the sender, or anyone for an admin")
    func sharedRooms() async throws {
        try await withStore { store in
            for (socket, user) in [("s1", "u1"), ("s2", "u2"), ("s3", "u3")] { _ = try await connect(store, socket, user: user) }
            _ = try await store.join("team-1", socket: SocketRef(socketId: "s1", userId: "u1", gatewayId: "gw1", sentAt: Date()), id: UUID())
            _ = try await store.join("team-1", socket: SocketRef(socketId: "s2", userId: "u2", gatewayId: "gw1", sentAt: Date()), id: UUID())
            _ = try await store.join("team-2", socket: SocketRef(socketId: "s3", userId: "u3", gatewayId: "gw1", sentAt: Date()), id: UUID())
            let split = try await store.shareRooms(sender: "u1", targets: ["u2", "u3", "u1", "nobody"], anyone: false)
            #expect(split.allowed == ["u2", "u1"] && split.refused == ["u3", "nobody"])
            let admin = try await store.shareRooms(sender: "u1", targets: ["u3", "nobody"], anyone: true)
            #expect(admin.allowed == ["u3", "nobody"] && admin.refused.isEmpty)
        }
    }
}
