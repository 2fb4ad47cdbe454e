import Foundation
import Kafka
import Messages
import Redis
import Testing
import TestSupport
import VerificationWorker

@Suite("Verification worker end to end", .serialized, .timeLimit(.minutes(3)))
struct VerificationWorkerTests {
    private func client(_ fixture: WorkerFixture, _ name: String, user: String, roles: [String]? = nil) async throws
        -> [String: Any]
    {
        ["name": name, "token": try await fixture.token(user, roles: roles)]
    }

    @Test("enroll, challenge, sign (raw and DER), verify: success with confidence 1, audited without key material")
    func happyPath() async throws {
        let fixture = try await WorkerFixture()
        let key = try await fixture.enroll("rec-1", user: "alice")
        try await fixture.waitForRecord("rec-1", status: .active)
        let seen = try await fixture.runPeer(
            clients: [try await client(fixture, "a", user: "alice")],
            steps: [
                ["client": "a", "emit": "biometric:challenge", "data": ["recordId": "rec-1"], "ack": true],
                ["client": "a", "wait_for": "biometric:challenge-issued"],
                ["client": "a", "sign_and_verify": ["recordId": "rec-1", "key_file": key, "format": "raw"], "ack": true],
                ["client": "a", "wait_for": "biometric:verification-result"],
                ["client": "a", "emit": "biometric:challenge", "data": ["recordId": "rec-1"]],
                ["client": "a", "wait_for": "biometric:challenge-issued", "count": 2],
                ["client": "a", "sign_and_verify": ["recordId": "rec-1", "key_file": key, "format": "der"]],
                ["client": "a", "wait_for": "biometric:verification-result", "count": 2],
            ])
        await fixture.stop()
        let alice = try #require(seen["a"])
        let issued = alice.payloads(named: "biometric:challenge-issued")
        #expect(issued.count == 2)
        let challenge = try #require(issued.first?["challenge"]?.stringValue)
        #expect(Base64URL.decode(challenge)?.count == 32)
        #expect(issued.first?["expiresAt"]?.stringValue.flatMap(Timestamp.date(from:)) != nil)
        #expect(alice.acks(for: "biometric:challenge").first?["challenge"]?.stringValue == challenge)
        let results = alice.payloads(named: "biometric:verification-result")
        #expect(results.count == 2)
        for result in results {
            #expect(result["success"] == .bool(true))
            #expect(result["confidence"]?.numberValue == 1)
            #expect(result["reason"] == .string("ok"))
            #expect(result["recordId"] == .string("rec-1"))
        }
        #expect(alice.acks(for: "biometric:verify").first?["success"] == .bool(true))
        let audits = try await fixture.audits(count: 2)
        #expect(audits.count == 2)
        #expect(audits.allSatisfy { $0.audit.success && $0.audit.reason == "ok" && $0.audit.userId == "alice" })
        #expect(audits.allSatisfy { !$0.raw.contains(challenge) && !$0.raw.contains("signature") && !$0.raw.contains("publicKey") })
    }

    @Test("every refusal answers verification-result with its documented reason")
    func failureReasons() async throws {
        let fixture = try await WorkerFixture()
        let aliceKey = try await fixture.enroll("rec-a", user: "alice")
        try await fixture.enroll("rec-a2", user: "alice")
        try await fixture.enroll("rec-b", user: "bob")
        try await fixture.enroll("rec-x", user: "alice")
        try await fixture.revoke("rec-x")
        try await fixture.waitForRecord("rec-x", status: .revoked)
        for record in ["rec-a", "rec-a2", "rec-b"] { try await fixture.waitForRecord(record, status: .active) }
        let otherKey = try await fixture.enroll("rec-other", user: "carol")
        let bogus = Base64URL.encode([UInt8](repeating: 7, count: 32))
        let signature = Base64URL.encode([UInt8](repeating: 1, count: 64))
        let seen = try await fixture.runPeer(
            clients: [try await client(fixture, "a", user: "alice")],
            steps: [
                ["client": "a", "emit": "biometric:verify", "data": ["recordId": "nope", "challenge": bogus, "signature": signature]],
                ["client": "a", "wait_for": "biometric:verification-result", "count": 1],
                ["client": "a", "emit": "biometric:verify", "data": ["recordId": "rec-b", "challenge": bogus, "signature": signature]],
                ["client": "a", "wait_for": "biometric:verification-result", "count": 2],
                ["client": "a", "emit": "biometric:verify", "data": ["recordId": "rec-x", "challenge": bogus, "signature": signature]],
                ["client": "a", "wait_for": "biometric:verification-result", "count": 3],
                ["client": "a", "emit": "biometric:verify", "data": ["recordId": "rec-a", "challenge": bogus, "signature": signature]],
                ["client": "a", "wait_for": "biometric:verification-result", "count": 4],
                // challenge 0: signed by the wrong key → bad_signature; then reused → challenge_reused
                ["client": "a", "emit": "biometric:challenge", "data": ["recordId": "rec-a"]],
                ["client": "a", "wait_for": "biometric:challenge-issued", "count": 1],
                ["client": "a", "sign_and_verify": ["recordId": "rec-a", "key_file": otherKey, "challenge": 0]],
                ["client": "a", "wait_for": "biometric:verification-result", "count": 5],
                ["client": "a", "sign_and_verify": ["recordId": "rec-a", "key_file": aliceKey, "challenge": 0]],
                ["client": "a", "wait_for": "biometric:verification-result", "count": 6],
                // challenge 1: tampered signature → bad_signature
                ["client": "a", "emit": "biometric:challenge", "data": ["recordId": "rec-a"]],
                ["client": "a", "wait_for": "biometric:challenge-issued", "count": 2],
                ["client": "a", "sign_and_verify": ["recordId": "rec-a", "key_file": aliceKey, "challenge": 1, "tamper": true]],
                ["client": "a", "wait_for": "biometric:verification-result", "count": 7],
                // challenge 2: issued for rec-a, used for rec-a2 → challenge_mismatch
                ["client": "a", "emit": "biometric:challenge", "data": ["recordId": "rec-a"]],
                ["client": "a", "wait_for": "biometric:challenge-issued", "count": 3],
                ["client": "a", "sign_and_verify": ["recordId": "rec-a2", "key_file": aliceKey, "challenge": 2]],
                ["client": "a", "wait_for": "biometric:verification-result", "count": 8],
                // refused challenges answer biometric:error
                ["client": "a", "emit": "biometric:challenge", "data": ["recordId": "rec-b"], "ack": true],
                ["client": "a", "wait_for": "biometric:error"],
            ])
        await fixture.stop()
        let alice = try #require(seen["a"])
        let reasons = alice.payloads(named: "biometric:verification-result").compactMap { $0["reason"]?.stringValue }
        #expect(reasons == ["unknown_record", "not_owner", "revoked", "challenge_unknown", "bad_signature",
                            "challenge_reused", "bad_signature", "challenge_mismatch"])
        #expect(alice.payloads(named: "biometric:verification-result").allSatisfy {
            $0["success"] == .bool(false) && $0["confidence"]?.numberValue == 0
        })
        let error = try #require(alice.payloads(named: "biometric:error").first)
        #expect(error["recordId"] == .string("rec-b"))
        #expect(error["message"]?.stringValue?.isEmpty == false)
        #expect(alice.acks(for: "biometric:challenge").first?["recordId"] == .string("rec-b"))
        let audits = try await fixture.audits(count: 8)
        #expect(audits.map(\.audit.reason).sorted() == reasons.sorted())
    }

    @Test("an expired challenge is refused as challenge_expired")
    func expiredChallenge() async throws {
        let fixture = try await WorkerFixture(workerEnvironment: ["CHALLENGE_TTL_SECONDS": "1"])
        let key = try await fixture.enroll("rec-e", user: "erin")
        try await fixture.waitForRecord("rec-e", status: .active)
        let seen = try await fixture.runPeer(
            clients: [try await client(fixture, "e", user: "erin")],
            steps: [
                ["client": "e", "emit": "biometric:challenge", "data": ["recordId": "rec-e"]],
                ["client": "e", "wait_for": "biometric:challenge-issued"],
                ["sleep": 1.5],
                ["client": "e", "sign_and_verify": ["recordId": "rec-e", "key_file": key]],
                ["client": "e", "wait_for": "biometric:verification-result"],
            ])
        await fixture.stop()
        let result = try #require(seen["e"]?.payloads(named: "biometric:verification-result").first)
        #expect(result["reason"] == .string("challenge_expired"))
        #expect(result["success"] == .bool(false))
    }

    @Test("a subscribe to someone else's record is refused and that socket receives nothing from the room")
    func subscribeAuthorization() async throws {
        let fixture = try await WorkerFixture()
        let key = try await fixture.enroll("rec-s", user: "alice")
        try await fixture.enroll("rec-ops", user: "dave", roles: ["OPS"])
        try await fixture.waitForRecord("rec-ops", status: .active)
        try await fixture.waitForRecord("rec-s", status: .active)
        let seen = try await fixture.runPeer(
            clients: [try await client(fixture, "a", user: "alice"), try await client(fixture, "b", user: "bob"),
                      try await client(fixture, "o", user: "olga", roles: ["OPS"])],
            steps: [
                ["client": "b", "emit": "biometric:subscribe", "data": ["recordId": "rec-s"], "ack": true],
                ["client": "b", "wait_for": "biometric:error"],
                ["client": "o", "emit": "biometric:subscribe", "data": ["recordId": "rec-ops"]],
                ["client": "o", "wait_for": "biometric:subscribed"],
                ["client": "a", "emit": "biometric:subscribe", "data": ["recordId": "rec-s"]],
                ["client": "a", "wait_for": "biometric:subscribed"],
                ["client": "a", "emit": "biometric:challenge", "data": ["recordId": "rec-s"]],
                ["client": "a", "wait_for": "biometric:challenge-issued"],
                ["client": "a", "sign_and_verify": ["recordId": "rec-s", "key_file": key]],
                ["client": "a", "wait_for": "biometric:verification-result"],
            ])
        await fixture.stop()
        let alice = try #require(seen["a"]), bob = try #require(seen["b"]), olga = try #require(seen["o"])
        #expect(alice.payloads(named: "biometric:subscribed").first?["recordId"] == .string("rec-s"))
        #expect(alice.payloads(named: "biometric:verification-started").count == 1)
        #expect(olga.payloads(named: "biometric:subscribed").first?["recordId"] == .string("rec-ops"))
        #expect(bob.payloads(named: "biometric:error").first?["recordId"] == .string("rec-s"))
        #expect(bob.payloads(named: "biometric:subscribed").isEmpty)
        #expect(bob.payloads(named: "biometric:verification-started").isEmpty)
        #expect(bob.acks(for: "biometric:subscribe").first?["recordId"] == .string("rec-s"))
    }

    @Test("stream-start for a foreign device is refused; a frame from an ungranted socket never reaches viewers")
    func streamGrants() async throws {
        let fixture = try await WorkerFixture()
        try await fixture.enroll("rec-d", user: "alice", devices: ["dev-1"])
        try await fixture.waitForRecord("rec-d", status: .active)
        let frame: [String: Any] = ["$bytes": Data("frame-from-bob".utf8).base64EncodedString()]
        let own: [String: Any] = ["$bytes": Data("frame-from-alice".utf8).base64EncodedString()]
        let seen = try await fixture.runPeer(
            clients: [try await client(fixture, "a", user: "alice"), try await client(fixture, "v", user: "alice"),
                      try await client(fixture, "b", user: "bob")],
            steps: [
                ["client": "v", "emit": "biometric:stream-start", "data": ["deviceId": "dev-1"], "ack": true],
                ["client": "a", "emit": "biometric:stream-start", "data": ["deviceId": "dev-1"], "ack": true],
                ["client": "b", "emit": "biometric:stream-start", "data": ["deviceId": "dev-1"], "ack": true],
                ["client": "b", "wait_for": "biometric:error"],
                ["sleep": 1.0],
                ["client": "b", "emit": "biometric:stream-data", "data": ["deviceId": "dev-1", "frame": frame]],
                ["client": "a", "emit": "biometric:stream-data", "data": ["deviceId": "dev-1", "frame": own]],
                ["client": "v", "wait_for": "biometric:stream-frame"],
            ], collectSeconds: 1)
        await fixture.stop()
        let alice = try #require(seen["a"]), viewer = try #require(seen["v"]), bob = try #require(seen["b"])
        #expect(bob.payloads(named: "biometric:error").first?["deviceId"] == .string("dev-1"))
        #expect(alice.acks(for: "biometric:stream-start").first?["streaming"] == .bool(true))
        let frames = viewer.payloads(named: "biometric:stream-frame").compactMap { $0["frame"]?.objectValue?["$bytes"]?.stringValue }
            .compactMap { Data(base64Encoded: $0) }.map { String(decoding: $0, as: UTF8.self) }
        #expect(frames == ["frame-from-alice"])
        #expect(bob.payloads(named: "biometric:stream-frame").isEmpty)
    }

    @Test("revoking a record withdraws its stream grants and room memberships: no frame reaches the viewer after it")
    func revocationWithdrawsGrants() async throws {
        let fixture = try await WorkerFixture()
        try await fixture.enroll("rec-r", user: "alice", devices: ["dev-r"])
        try await fixture.enroll("rec-signal", user: "alice")
        try await fixture.waitForRecord("rec-r", status: .active)
        try await fixture.waitForRecord("rec-signal", status: .active)
        let before: [String: Any] = ["$bytes": Data("before-revoke".utf8).base64EncodedString()]
        let after: [String: Any] = ["$bytes": Data("after-revoke".utf8).base64EncodedString()]
        let clients = [try await client(fixture, "s", user: "alice"), try await client(fixture, "v", user: "alice"),
                       try await client(fixture, "w", user: "alice")]
        let peer = Task {
            try await fixture.runPeer(clients: clients, steps: [
                ["client": "s", "emit": "biometric:stream-start", "data": ["deviceId": "dev-r"], "ack": true],
                ["client": "s", "wait_ack": "biometric:stream-start"],
                ["client": "v", "emit": "biometric:stream-start", "data": ["deviceId": "dev-r"], "ack": true],
                ["client": "v", "wait_ack": "biometric:stream-start"],
                ["client": "w", "emit": "biometric:subscribe", "data": ["recordId": "rec-r"]],
                ["client": "w", "wait_for": "biometric:subscribed"],
                ["client": "s", "emit": "biometric:stream-data", "data": ["deviceId": "dev-r", "frame": before]],
                ["client": "v", "wait_for": "biometric:stream-frame"],
                // Tells the test (through the grant book) that streaming works: now it revokes rec-r.
                ["client": "v", "emit": "biometric:subscribe", "data": ["recordId": "rec-signal"]],
                ["client": "s", "wait_for": "biometric:error", "timeout": 60],
                ["client": "v", "wait_for": "biometric:error", "timeout": 30],
                ["client": "w", "wait_for": "biometric:error", "timeout": 30],
                ["client": "s", "emit": "biometric:stream-data", "data": ["deviceId": "dev-r", "frame": after]],
                ["client": "s", "wait_for": "error", "timeout": 30],
            ], collectSeconds: 1)
        }
        let redis = try fixture.redisClient()
        let deadline = ContinuousClock.now + .seconds(60)
        while try await redis.smembers("verification:grants:rec-signal").isEmpty {
            guard ContinuousClock.now < deadline else { throw FixtureError("the viewer never signalled") }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(try await redis.smembers("verification:grants:rec-r").count == 3)
        try await fixture.revoke("rec-r")
        let seen = try await peer.value
        let remaining = try await redis.smembers("verification:grants:rec-r")
        // The peer disconnected: the worker hears it on gateway.connections and forgets the viewer's room grant.
        let forgetDeadline = ContinuousClock.now + .seconds(30)
        while try await !redis.smembers("verification:grants:rec-signal").isEmpty {
            guard ContinuousClock.now < forgetDeadline else { throw FixtureError("disconnect did not forget grants") }
            try await Task.sleep(for: .milliseconds(50))
        }
        await redis.close()
        await fixture.stop()
        let streamer = try #require(seen["s"]), viewer = try #require(seen["v"]), watcher = try #require(seen["w"])
        let frames = viewer.payloads(named: "biometric:stream-frame").compactMap { $0["frame"]?.peerBytes }
            .map { String(decoding: $0, as: UTF8.self) }
        #expect(frames == ["before-revoke"])
        for socket in [streamer, viewer] {
            let notice = try #require(socket.payloads(named: "biometric:error").first)
            #expect(notice["reason"] == .string("revoked"))
            #expect(notice["recordId"] == .string("rec-r"))
            #expect(notice["deviceId"] == .string("dev-r"))
        }
        let left = try #require(watcher.payloads(named: "biometric:error").first)
        #expect(left["reason"] == .string("revoked"))
        #expect(left["deviceId"] == nil)
        // The gateway refused the frame sent after the withdrawal: the streamer no longer holds a grant.
        #expect(streamer.payloads(named: "error").contains { $0["event"] == .string("biometric:stream-data") })
        #expect(remaining.isEmpty)
    }

    @Test("killing the worker mid-stream and starting another loses no verify request and double-audits none")
    func killAndRestart() async throws {
        let fixture = try await WorkerFixture()
        try await fixture.enroll("rec-k", user: "kim")
        try await fixture.waitForRecord("rec-k", status: .active)
        let total = 24
        var steps: [[String: Any]] = []
        for index in 0..<total {
            let challenge = Base64URL.encode([UInt8](repeating: UInt8(index), count: 32))
            steps.append(["client": "k", "emit": "biometric:verify",
                          "data": ["recordId": "rec-k", "challenge": challenge, "signature": Base64URL.encode([UInt8](repeating: 2, count: 64))]])
            steps.append(["sleep": 0.15])
        }
        steps.append(["client": "k", "wait_for": "biometric:verification-result", "count": total, "timeout": 60])
        let clients = [try await client(fixture, "k", user: "kim")]
        let peer = Task { try await fixture.runPeer(clients: clients, steps: steps, collectSeconds: 1.5) }
        _ = try await fixture.audits(count: 3, timeout: .seconds(30))
        let first = try #require(fixture.firstWorker)
        await fixture.stopWorker(first, graceful: false)
        try await fixture.startWorker()
        let seen = try await peer.value
        let audits = try await fixture.audits(count: total + 1, timeout: .seconds(5))
        await fixture.stop()
        let results = try #require(seen["k"]).payloads(named: "biometric:verification-result")
        #expect(results.count == total)
        // A command redelivered after the kill may re-send its audit, always under the same derived id: audit
        // consumers dedupe by envelope id, and then see each verify exactly once.
        #expect(audits.count >= total)
        #expect(Set(audits.map(\.id)).count == total)
        #expect(Set(audits.map(\.audit.socketId)).count == 1)
    }

    @Test("a verify redelivered after its answers went out (plan, verdict or nothing stored) gives the client one result and the audit one envelope id")
    func crashWindows() async throws {
        let fixture = try await WorkerFixture()
        let key = try await fixture.enroll("rec-c", user: "chris")
        try await fixture.waitForRecord("rec-c", status: .active)
        let clients = [try await client(fixture, "c", user: "chris")]
        let peer = Task {
            try await fixture.runPeer(clients: clients, steps: [
                ["client": "c", "emit": "biometric:challenge", "data": ["recordId": "rec-c"]],
                ["client": "c", "wait_for": "biometric:challenge-issued"],
                ["client": "c", "sign_and_verify": ["recordId": "rec-c", "key_file": key], "ack": true],
                ["client": "c", "wait_for": "biometric:verification-result"],
                ["client": "c", "wait_for": "test:marker", "timeout": 90],
            ], collectSeconds: 0.5)
        }
        // The verify command exactly as the gateway produced it.
        var command: KafkaMessage?
        let deadline = ContinuousClock.now + .seconds(60)
        while command == nil, ContinuousClock.now < deadline {
            command = try await fixture.records(on: Topics.verificationCommands, count: 2, timeout: .seconds(2))
                .first { (try? MessageCoding.decodeMessage(from: Data($0.value), topic: Topics.verificationCommands))?
                    .type == "biometric:verify" }
        }
        let verify = try #require(command)
        let header = try MessageCoding.decodeMessage(from: Data(verify.value), topic: Topics.verificationCommands).header
        let socketId = try #require(header.principal?.socketId)
        let redelivery = OutgoingMessage(topic: verify.topic, key: verify.key, value: verify.value)
        let redis = try fixture.redisClient()
        let doneKey = "verification:done:\(header.id.uuidString.lowercased())"
        // The done key holds `verdict:<reason>` until the answers are sent, then the delivered (slim) plan.
        func delivered() async throws -> Bool {
            guard let stored = try await redis.get(doneKey), !stored.hasPrefix("verdict:") else { return false }
            return try MessageCoding.decode(CommandPlan.self, from: Data(stored.utf8)).stage == .delivered
        }
        func waitUntilDelivered() async throws {
            let deadline = ContinuousClock.now + .seconds(30)
            while try await !delivered() {
                guard ContinuousClock.now < deadline else { throw FixtureError("command not delivered in time") }
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        try await waitUntilDelivered()
        // Everything sent, the worker dies before marking it; the command comes again. First as an earlier version
        // left it: a stored plan (slim once delivered) put back as it was before, planned, holding exactly what the
        // worker sent.
        let sentAudit = try #require(try await fixture.audits(count: 1).first)
        let sent = try await fixture.records(on: Topics.gatewayDeliveries, count: 1_000, timeout: .seconds(2))
            .compactMap { record -> CommandPlan.Outgoing? in
                guard record.keyString == socketId,
                      let decoded = try? MessageCoding.decodeMessage(from: Data(record.value), topic: record.topic),
                      let delivery = decoded.payload as? Delivery, case .event(let event) = delivery.content,
                      ["biometric:verification-started", "biometric:verification-result"].contains(event.name)
                else { return nil }
                return CommandPlan.Outgoing(delivery: delivery, key: socketId, id: decoded.header.id)
            }
        #expect(sent.count == 2)
        let stored = CommandPlan(audit: sentAudit.audit, auditId: sentAudit.id, deliveries: sent)
        _ = try await redis.set(doneKey, String(decoding: try MessageCoding.encode(stored), as: UTF8.self))
        try await fixture.produce([redelivery])
        try await waitUntilDelivered()
        // Then as this version leaves it: the verdict stored with the challenge's claim, the answers rebuilt from it.
        _ = try await redis.set(doneKey, "verdict:ok")
        try await fixture.produce([redelivery])
        try await waitUntilDelivered()
        // And with the decision lost altogether (Redis state gone): decided again, the challenge's claim
        // recognising its owning command.
        _ = try await redis.del([doneKey])
        try await fixture.produce([redelivery])
        try await waitUntilDelivered()
        await redis.close()
        // Keyed like the worker's answers (same partition, so after them); sent twice under one id.
        try await fixture.deliver(
            Delivery.event("test:marker", data: ["n": 1], to: .socket(socketId)), id: UUID(), key: socketId, copies: 2)
        let seen = try await peer.value
        let audits = try await fixture.audits(count: 4)
        await fixture.stop()
        let chris = try #require(seen["c"])
        let results = chris.payloads(named: "biometric:verification-result")
        #expect(results.count == 1)
        #expect(results.first?["success"] == .bool(true))
        #expect(chris.acks(for: "biometric:verify").count == 1)
        #expect(chris.events(named: "test:marker").count == 1)
        #expect(audits.count == 4)
        #expect(Set(audits.map(\.id)).count == 1)
        #expect(audits.allSatisfy { $0.audit.success })
    }
}

@Suite("Challenge store", .timeLimit(.minutes(1)))
struct ChallengeStoreTests {
    @Test("a challenge is used once across two worker instances; the owning command's redelivery still owns it")
    func singleUseAcrossInstances() async throws {
        let server = try await RedisServerProcess.start()
        let first = try RedisClient(configuration: RedisConfiguration(url: server.url), logger: .init(label: "t1"))
        let second = try RedisClient(configuration: RedisConfiguration(url: server.url), logger: .init(label: "t2"))
        let storeA = ChallengeStore(redis: first, ttl: .seconds(60), memory: .seconds(60))
        let storeB = ChallengeStore(redis: second, ttl: .seconds(60), memory: .seconds(60))
        for _ in 0..<20 {
            let issued = try await storeA.issue(userId: "u1", recordId: "r1")
            let commandA = UUID(), commandB = UUID()
            async let takeA = storeA.take(issued.challenge, userId: "u1", recordId: "r1", commandId: commandA)
            async let takeB = storeB.take(issued.challenge, userId: "u1", recordId: "r1", commandId: commandB)
            let outcomes = try await [takeA, takeB]
            #expect(outcomes.filter { $0 == .taken }.count == 1)
            #expect(outcomes.filter { $0 == .refused(.challengeReused) }.count == 1)
            let owner = outcomes[0] == .taken ? commandA : commandB
            #expect(try await storeB.take(issued.challenge, userId: "u1", recordId: "r1", commandId: owner) == .taken)
        }
        #expect(try await storeA.take(Base64URL.encode([UInt8](repeating: 9, count: 32)), userId: "u1", recordId: "r1",
                                      commandId: UUID()) == .refused(.challengeUnknown))
        await first.close()
        await second.close()
        try? await server.stop()
    }

    @Test("ES256 signatures verify raw and DER, and nothing else")
    func signatures() throws {
        let key = P256Fixture()
        let message = Data((0..<32).map { UInt8($0) })
        #expect(SignatureVerifier.verify(signature: key.raw(message), over: message, with: key.publicKey))
        #expect(SignatureVerifier.verify(signature: key.der(message), over: message, with: key.publicKey))
        #expect(!SignatureVerifier.verify(signature: key.raw(message), over: message.dropFirst() + [0], with: key.publicKey))
        #expect(!SignatureVerifier.verify(signature: "not-base64!", over: message, with: key.publicKey))
        #expect(!SignatureVerifier.verify(signature: Base64URL.encode([UInt8](repeating: 0, count: 64)), over: message,
                                          with: key.publicKey))
        let jwk = SignatureVerifier.jwk(key.publicKey)
        #expect(SignatureVerifier.publicKey(jwk)?.rawRepresentation == key.publicKey.rawRepresentation)
    }
}

@Suite("Grant book", .timeLimit(.minutes(1)))
struct GrantBookTests {
    private func record(status: RecordStatus = .active, owner: String = "alice", devices: [String] = ["d1", "d2"],
                        roles: [String] = ["OPS"]) -> BiometricRecord {
        BiometricRecord(recordId: "r1", ownerUserId: owner, deviceIds: devices,
                        publicKey: SignatureVerifier.jwk(P256Fixture().publicKey), status: status, grantedRoles: roles)
    }

    @Test("a grant is withdrawn by revocation, deletion, a new owner, a lost role or a removed device — and only then")
    func withdrawal() {
        let stream = GrantBook.Grant(kind: .stream, gatewayId: "g", socketId: "s", userId: "alice", deviceId: "d1")
        let room = GrantBook.Grant(kind: .room, gatewayId: "g", socketId: "s", userId: "olga", role: "OPS")
        #expect(!stream.isWithdrawn(by: record()))
        #expect(!room.isWithdrawn(by: record()))
        #expect(stream.isWithdrawn(by: record(status: .revoked)))
        #expect(room.isWithdrawn(by: record(status: .revoked)))
        #expect(stream.isWithdrawn(by: nil))
        #expect(stream.isWithdrawn(by: record(owner: "bob")))
        #expect(!room.isWithdrawn(by: record(owner: "bob")))
        #expect(room.isWithdrawn(by: record(roles: [])))
        #expect(stream.isWithdrawn(by: record(devices: ["d2"])))
        #expect(!room.isWithdrawn(by: record(devices: [])))
    }

    @Test("each withdrawn grant goes to exactly one of two instances; disconnects and stops forget grants")
    func exactlyOnce() async throws {
        let server = try await RedisServerProcess.start()
        let first = try RedisClient(configuration: RedisConfiguration(url: server.url), logger: .init(label: "t1"))
        let second = try RedisClient(configuration: RedisConfiguration(url: server.url), logger: .init(label: "t2"))
        let bookA = GrantBook(redis: first, ttl: .seconds(600)), bookB = GrantBook(redis: second, ttl: .seconds(600))
        let grants = (0..<40).map { GrantBook.Grant(kind: .stream, gatewayId: "g", socketId: "s\($0)", userId: "alice",
                                                    deviceId: "d1") }
        for grant in grants { try await bookA.add(grant, recordId: "r1") }
        #expect(try await bookB.grantedRecords() == ["r1"])
        #expect(try await bookA.takeWithdrawn(recordId: "r1", record: record()).isEmpty)
        async let takenA = bookA.takeWithdrawn(recordId: "r1", record: record(status: .revoked))
        async let takenB = bookB.takeWithdrawn(recordId: "r1", record: record(status: .revoked))
        let taken = try await takenA + takenB
        #expect(taken.count == grants.count)
        #expect(Set(taken) == Set(grants))

        try await bookA.add(grants[0], recordId: "r1")
        try await bookA.add(grants[1], recordId: "r1")
        try await bookA.add(GrantBook.Grant(kind: .room, gatewayId: "g", socketId: "s1", userId: "alice"), recordId: "r1")
        try await bookB.remove(.stream, gatewayId: "g", socketId: "s0", deviceId: "d1", recordId: "r1")
        try await bookB.forgetSocket(gatewayId: "g", socketId: "s1")
        #expect(try await bookA.takeWithdrawn(recordId: "r1", record: nil).isEmpty)
        #expect(try await bookA.grantedRecords().isEmpty)
        await first.close()
        await second.close()
        try? await server.stop()
    }
}
