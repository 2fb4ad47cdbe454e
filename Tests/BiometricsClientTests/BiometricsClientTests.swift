import BiometricsClient
import Crypto
import Foundation
import Messages
import SocketIO
import Testing
import TestSupport

@Suite("BiometricsClient against a real stack", .serialized, .timeLimit(.minutes(3)))
struct BiometricsClientTests {
    @Test("typed biometric calls round-trip: subscribe, challenge + verify, refusals, streams and frames")
    func typedCalls() async throws {
        try await ClientFixture.with { fixture in
            let key = try await fixture.enroll("rec-c1", user: "alice", devices: ["dev-c1"])
            let alice = fixture.client("alice")
            let viewer = fixture.client("alice")
            let mallory = fixture.client("mallory")
            for client in [alice, viewer, mallory] { client.start() }
            for client in [alice, viewer, mallory] { try await client.waitUntilConnected() }

            try await alice.subscribe(record: "rec-c1")
            let started = alice.pushes(named: ["biometric:verification-started"])
            let good = try await alice.verify(record: "rec-c1", signingWith: key)
            #expect(good.success && good.confidence == 1 && good.recordId == "rec-c1")
            var startedIterator = started.makeAsyncIterator()
            #expect(await startedIterator.next()?.payload["recordId"]?.stringValue == "rec-c1")

            let stranger = try await alice.verify(record: "rec-c1", signingWith: P256.Signing.PrivateKey())
            #expect(!stranger.success && stranger.reason == "bad_signature")

            await #expect(throws: BiometricsClientError.self) { try await mallory.subscribe(record: "rec-c1") }
            do {
                try await mallory.startStream(device: "dev-c1")
                Issue.record("a foreign device stream was granted")
            } catch let error as BiometricsClientError {
                #expect(error.code == .serviceRefused)
            }

            // A granted streamer's frames reach a viewer of the device stream byte for byte.
            let frames = viewer.streamFrames()
            try await viewer.startStream(device: "dev-c1")
            try await alice.startStream(device: "dev-c1")
            let payload = Data((0..<256).map { UInt8($0) })
            try alice.sendFrame(payload, device: "dev-c1")
            var frameIterator = frames.makeAsyncIterator()
            let frame = await frameIterator.next()
            #expect(frame?.frame == payload && frame?.deviceId == "dev-c1")

            // An invalid event is refused by the gateway with its reason, through the ack.
            do {
                _ = try await alice.request("biometric:verify", ["recordId": 5])
                Issue.record("an invalid payload was accepted")
            } catch let error as BiometricsClientError {
                #expect(error.code == .rejected)
            }
            for client in [alice, viewer, mallory] { await client.close() }
        }
    }

    @Test("gateway SIGKILLed and restarted: states show the sequence, subscriptions come back, a buffered request is sent once")
    func reconnects() async throws {
        try await ClientFixture.with { fixture in
            _ = try await fixture.enroll("rec-c2", user: "bob")
            let bob = fixture.client("bob")
            var states = bob.states().makeAsyncIterator()
            bob.start()
            try await bob.waitUntilConnected()
            try await bob.subscribe(record: "rec-c2")

            await fixture.killGateway()
            var sequence: [ConnectionState] = []
            while let state = await states.next() {
                sequence.append(state)
                if case .reconnecting = state { break }
            }
            // Made while the gateway is down: waits in the offline buffer, goes out once after the reconnect.
            async let challenge = bob.challenge(record: "rec-c2")
            try await Task.sleep(for: .milliseconds(300))
            try await fixture.startGateway()
            while let state = await states.next() {
                sequence.append(state)
                if case .connected = state { break }
            }
            let issued = try await challenge
            #expect(issued.recordId == "rec-c2")
            #expect(sequence.first == .connecting)
            #expect(sequence.contains { if case .connected = $0 { true } else { false } })
            #expect(sequence.contains(.reconnecting(attempt: 1)))
            #expect(sequence.last.map { if case .connected = $0 { true } else { false } } == true)
            #expect(try await fixture.commands(on: Topics.verificationCommands, type: "biometric:challenge", expected: 1) == 1)

            // The restored subscription: bob's record room gets verification-started again.
            #expect(try await fixture.roomDelivers(to: bob, record: "rec-c2", challenge: issued.challenge))
            await bob.close()
        }
    }

    @Test("close() closes the connection: the gateway's connection gauge drops back (found by `biometricsctl soak`)")
    func closeEndsTheConnection() async throws {
        try await ClientFixture.with { fixture in
            func connections() async throws -> Double? {
                let metrics = try await httpGet(port: fixture.gatewayPort, path: "/metrics").body
                return metrics.split(separator: "\n").first { $0.hasPrefix("gateway_connections ") }
                    .flatMap { Double($0.split(separator: " ").last ?? "") }
            }
            let client = fixture.client("carol")
            client.start()
            try await client.waitUntilConnected()
            try await waitUntil("the gateway counts the connection", timeout: .seconds(15)) {
                try await connections() == 1
            }
            await client.close()
            // Before the fix the closed client kept its WebSocket open (and answered pings) for ever.
            try await waitUntil("the gateway sees the connection closed", timeout: .seconds(15)) {
                try await connections() == 0
            }
        }
    }

    @Test("a refused token ends in disconnected without retrying; back-off grows with jitter and is capped")
    func refusalAndBackoff() async throws {
        var configuration = BiometricsClientConfiguration(url: "http://127.0.0.1:1") { "not-a-token" }
        configuration.reconnect = .never
        let policy = ReconnectPolicy()
        #expect(policy.delay(beforeAttempt: 1, random: 0) == .seconds(1))
        #expect(policy.delay(beforeAttempt: 2, random: 0) == .seconds(2))
        #expect(policy.delay(beforeAttempt: 10, random: 0) == .seconds(5))
        for attempt in [62, 63, 64, 1000, Int.max] {  // a client retrying for ever: finite, capped, never a trap
            #expect(policy.delay(beforeAttempt: attempt, random: 0.75) == .seconds(5))
        }
        #expect(policy.delay(beforeAttempt: 1, random: 0.05) == .milliseconds(975))  // first decimal 0: shorter
        #expect(policy.delay(beforeAttempt: 1, random: 0.15) == .milliseconds(1075))  // first decimal 1: longer
        let offline = BiometricsClient(configuration: configuration)
        offline.start()
        await #expect(throws: BiometricsClientError.self) { try await offline.waitUntilConnected(timeout: .seconds(10)) }
        await offline.close()

        try await ClientFixture.with { fixture in
            let refused = BiometricsClient(configuration: BiometricsClientConfiguration(url: fixture.url) { "garbage" })
            refused.start()
            do {
                try await refused.waitUntilConnected()
                Issue.record("a garbage token connected")
            } catch let error as BiometricsClientError {
                #expect(error.message.contains("refused"))
            }
            await refused.close()
        }
    }
}

