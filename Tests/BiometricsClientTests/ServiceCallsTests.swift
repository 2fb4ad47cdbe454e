import BiometricsClient
import Foundation
import SocketIO
import Testing
import TestSupport

@Suite("BiometricsClient typed calls to the presence and notification services", .timeLimit(.minutes(3)))
struct ServiceCallsTests {
    @Test("sessions, presence, rooms, broadcasts and notifications round-trip through the real services")
    func roundTrips() async throws {
        try await ClientFixture.with(allServices: true) { fixture in
            let alice = fixture.client("alice", scope: "notifications:send", rooms: ["team-1"])
            let bob = fixture.client("bob", rooms: ["team-1"])
            let mallory = fixture.client("mallory")
            for client in [alice, bob, mallory] { client.start() }
            for client in [alice, bob, mallory] { try await client.waitUntilConnected() }

            // Sessions: created with the address the gateway saw, listed, ended (own only).
            let session = try await alice.createSession(deviceInfo: "swift-sdk-test")
            #expect(session.userId == "alice" && session.deviceInfo == "swift-sdk-test")
            #expect(session.ipAddress == "127.0.0.1")
            #expect(try await alice.sessions().map(\.id).contains(session.id))
            await #expect(throws: BiometricsClientError.self) { try await mallory.endSession(session.id) }

            // Rooms by the token's claim; a broadcast to the room reaches the other member and not a stranger.
            let members = try await alice.joinRoom("team-1")
            #expect(members.contains("alice"))
            try await bob.joinRoom("team-1")
            await #expect(throws: BiometricsClientError.self) { try await mallory.joinRoom("team-1") }
            let bobBroadcasts = bob.broadcasts()
            let malloryBroadcasts = Collector<ServerPush>()
            let malloryStream = mallory.broadcasts()  // observing from now, before the broadcast
            let malloryWatcher = Task { for await push in malloryStream { malloryBroadcasts.append(push) } }
            try await alice.broadcast(toRoom: "team-1", type: "hello", payload: ["n": 1])
            var bobIterator = bobBroadcasts.makeAsyncIterator()
            let message = await bobIterator.next()
            #expect(message?.payload["from"]?.stringValue == "alice" && message?.payload["type"]?.stringValue == "hello")
            await #expect(throws: BiometricsClientError.self) {
                try await mallory.broadcast(toRoom: "team-1", type: "spam", payload: [:])
            }

            // Presence: bob sees alice go away through the room.
            let changes = bob.presenceChanges()
            try await alice.updatePresence("away")
            var changeIterator = changes.makeAsyncIterator()
            var change = await changeIterator.next()
            while let current = change, current.userId != "alice" { change = await changeIterator.next() }
            #expect(change?.status == "away")

            // Notifications: allowed by scope, refused without it; pushed live, listed unread, marked read.
            let bobNotifications = bob.notifications()
            try await alice.sendNotification(to: "bob", type: "invoice", title: "Invoice", body: "ready", category: "billing")
            await #expect(throws: BiometricsClientError.self) {
                try await mallory.sendNotification(to: "bob", type: "spam", title: "x", body: "y")
            }
            var notificationIterator = bobNotifications.makeAsyncIterator()
            let pushed = try #require(await notificationIterator.next())
            #expect(pushed.title == "Invoice" && pushed.category == "billing")
            let unread = try await bob.unreadNotifications(limit: 10)
            #expect(unread.notifications.map(\.id) == [pushed.id])
            try await bob.markRead(notification: pushed.id)
            #expect(try await bob.unreadNotifications().notifications.isEmpty)
            await #expect(throws: BiometricsClientError.self) { try await mallory.markRead(notification: pushed.id) }

            malloryWatcher.cancel()
            #expect(malloryBroadcasts.count == 0, "a stranger hears no room broadcast")
            try await alice.leaveRoom("team-1")
            try await alice.endSession(session.id)
            for client in [alice, bob, mallory] { await client.close() }
        }
    }
}
