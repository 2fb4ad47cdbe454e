import Auth
import Crypto
import Foundation
import Kafka
import Messages
import Testing
import TestSupport

/// The attack matrix at the gateway's edge (docs/RELIABILITY.md, "Attack matrix"): tokens at CONNECT, forged identity
/// fields inside client payloads, reserved room kinds, and browser origins on the WebSocket upgrade. Each row is refused
/// with its documented answer, and nothing of it reaches Kafka.
@Suite("Attack matrix: tokens, forged fields, origins", .timeLimit(.minutes(2)))
struct GatewayEdgeAttackTests {
    static let issuer = "https://id.example"
    static let audience = "biometrics"

    /// `header.claims.signature`, HS256 over exactly these JSON documents (claims a regular issuer would not write).
    static func handMade(header: String = #"{"alg":"HS256","typ":"JWT"}"#, claims: String,
                         secret: String = GatewayFixture.secret) -> String {
        let input = base64URL(Data(header.utf8)) + "." + base64URL(Data(claims.utf8))
        let mac = HMAC<SHA256>.authenticationCode(for: Data(input.utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return input + "." + base64URL(Data(mac))
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// Connects a raw client with `token`; returns the CONNECT answer, and after a refusal tries an event anyway.
    func connect(_ fixture: GatewayFixture, token: String) async throws -> String {
        let client = try RawWebSocketClient(port: fixture.port)
        let answer = try await client.connect(token: token)
        if answer.hasPrefix("44") {
            try await offThePool { try client.sendText(#"42["presence:update",{"status":"away"}]"#) }
        }
        return answer
    }

    @Test("JWT rows at CONNECT: each refused with its CONNECT_ERROR message; events sent anyway are never relayed")
    func tokens() async throws {
        let fixture = try await GatewayFixture(environment: ["JWT_ISSUER": Self.issuer, "JWT_AUDIENCE": Self.audience])
        let now = Date()
        func claims(_ subject: String, expiresIn: TimeInterval = 600, notBefore: Date? = nil, issuer: String? = Self.issuer,
                    audience: [String]? = [Self.audience], rooms: [String]? = nil) -> AccessTokenClaims {
            AccessTokenClaims(subject: subject, expiresAt: now.addingTimeInterval(expiresIn), issuedAt: now,
                              notBefore: notBefore, issuer: issuer, audience: audience, rooms: rooms)
        }
        let issue = try DevTokenIssuer(secret: GatewayFixture.secret)
        let exp = Int(now.timeIntervalSince1970) + 600
        let rows: [(row: String, token: String, answer: String)] = [
            ("alg none", Self.base64URL(Data(#"{"alg":"none","typ":"JWT"}"#.utf8)) + "."
                + Self.base64URL(Data(#"{"sub":"mallory","exp":\#(exp),"iss":"\#(Self.issuer)","aud":"\#(Self.audience)"}"#.utf8))
                + ".", "unsigned tokens (alg none) are not accepted"),
            ("wrong key", try await DevTokenIssuer(secret: GatewayFixture.secret + "-other").token(for: claims("mallory")),
             "invalid signature"),
            ("expired", try await issue.token(for: claims("mallory", expiresIn: -3600)), "token expired"),
            ("not yet valid", try await issue.token(for: claims("mallory", notBefore: now.addingTimeInterval(3600))),
             "token not yet valid"),
            ("wrong iss", try await issue.token(for: claims("mallory", issuer: "https://evil.example")), "wrong issuer"),
            ("no iss", try await issue.token(for: claims("mallory", issuer: nil)), "wrong issuer"),
            ("wrong aud", try await issue.token(for: claims("mallory", audience: ["other"])), "wrong audience"),
            ("missing sub", Self.handMade(claims: #"{"exp":\#(exp),"iss":"\#(Self.issuer)","aud":"\#(Self.audience)"}"#),
             "invalid claims: missing sub"),
            ("empty sub", Self.handMade(claims: #"{"sub":"","exp":\#(exp),"iss":"\#(Self.issuer)","aud":"\#(Self.audience)"}"#),
             "token has no subject"),
            ("missing exp", Self.handMade(claims: #"{"sub":"mallory","iss":"\#(Self.issuer)","aud":"\#(Self.audience)"}"#),
             "invalid claims: missing exp"),
            ("oversize (signed, 9 kB of rooms)",
             try await issue.token(for: claims("mallory", rooms: (0..<600).map { "room-\($0)" })), "token too large"),
        ]
        for row in rows {
            let answer = try await connect(fixture, token: row.token)
            #expect(answer == #"44{"message":"\#(row.answer)"}"#, "\(row.row)")
        }
        // The control: the same issuer and audience, signed with the right key, connects.
        #expect(try await connect(fixture, token: try await issue.token(for: claims("trent"))).hasPrefix("40{"))

        let connected = try await fixture.records(on: Topics.gatewayConnections, count: 100, timeout: .seconds(2)) {
            (try? MessageCoding.decode(RawEnvelope.self, from: Data($0.value)))?.type == "connection:connected"
        }
        let users = try connected.map { try MessageCoding.decode(RawEnvelope.self, from: Data($0.value)) }
            .compactMap { $0.payload.objectValue?["userId"]?.stringValue }
        #expect(users == ["trent"], "only the control connected")
        #expect(try await fixture.records(on: Topics.presenceCommands, count: 1, timeout: .seconds(1)).isEmpty,
                "no event of a refused socket was relayed")
        try await fixture.stop()
    }

    @Test("HS/RS confusion: an HS256 token signed with the gateway's RSA public key is refused")
    func algorithmConfusion() async throws {
        let publicKey = RepoPaths.root.appendingPathComponent("Tests/AuthTests/Fixtures/rsa-test-public.pem")
        let pem = try String(contentsOf: publicKey, encoding: .utf8)
        let fixture = try await GatewayFixture(environment: ["JWT_HS256_SECRET": "", "JWT_PUBLIC_KEY_FILE": publicKey.path])
        let exp = Int(Date().timeIntervalSince1970) + 600
        let forged = Self.handMade(claims: #"{"sub":"mallory","exp":\#(exp),"roles":["ADMIN"]}"#, secret: pem)
        #expect(try await connect(fixture, token: forged) == #"44{"message":"algorithm HS256 is not accepted"}"#)
        let stripped = Self.handMade(claims: #"{"sub":"mallory","exp":\#(exp)}"#,
                                     secret: pem.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(try await connect(fixture, token: stripped) == #"44{"message":"algorithm HS256 is not accepted"}"#)
        #expect(try await fixture.records(on: Topics.presenceCommands, count: 1, timeout: .seconds(1)).isEmpty)
        try await fixture.stop()
    }

    @Test("forged principal, reply and identity fields never override the gateway's; reserved room kinds are refused")
    func forgedFields() async throws {
        let fixture = try await GatewayFixture()
        let token = try await fixture.token("forger")
        let client = try RawWebSocketClient(port: fixture.port)
        // Identity claims in the CONNECT auth payload next to the token are ignored: the token alone says who.
        let answer = try await offThePool { () -> String in
            try client.handshake(path: "/ws/?EIO=4&transport=websocket")
            _ = try client.readText()
            try client.sendText(#"40{"token":"\#(token)","userId":"victim","roles":["ADMIN"],"#
                                + #""principal":{"userId":"victim","roles":["ADMIN"]}}"#)
            return try client.readText()
        }
        #expect(answer.hasPrefix("40{"))
        let sid = try #require(answer.split(separator: "\"").dropFirst(3).first.map(String.init))

        let principal = #""principal":{"userId":"victim","roles":["ADMIN"],"socketId":"s","gatewayId":"g"}"#
        let reply = #""reply":{"gatewayId":"g","socketId":"victim-socket","ackId":7}"#
        let events: [(event: String, fields: String)] = [
            ("presence:update", #""status":"away""#), ("presence:join-room", #""roomId":"team-1""#),
            ("session:create", #""deviceInfo":"x""#), ("session:end", #""sessionId":"s-1""#),
            ("broadcast:to-users", #""targetUsers":["victim"],"type":"t","payload":{}"#),
            ("broadcast:to-room", #""targetRoom":"team-1","type":"t","payload":{}"#),
            ("broadcast:admin", #""type":"t","payload":{}"#),
            ("biometric:subscribe", #""recordId":"r-1""#), ("biometric:stream-start", #""deviceId":"d-1""#),
            ("notification:mark-read", #""notificationId":"n-1""#),
            ("notification:send", #""targetUserId":"victim","type":"t","title":"t","body":"b""#),
        ]
        var sent: [String] = []
        for (event, fields) in events {
            for forged in [principal, reply] {
                sent.append(#"42["\#(event)",{\#(fields),\#(forged)}]"#)
            }
        }
        // Every reserved room kind as a presence room id.
        for room in ["user:victim", "biometric:r-1", "stream:d-1", "notifications:general", "room:team-1"] {
            sent.append(#"42["presence:join-room",{"roomId":"\#(room)"}]"#)
            sent.append(#"42["broadcast:to-room",{"targetRoom":"\#(room)","type":"t","payload":{}}]"#)
        }
        // Then one good event with an ack: relayed with the gateway's principal and reply.
        sent.append(#"421["presence:update",{"status":"away"}]"#)
        let messages = sent
        let errors = try await offThePool { () -> [String] in
            for text in messages { try client.sendText(text) }
            var errors: [String] = []
            while errors.count < messages.count - 1 {
                let text = try client.readText()
                if text.hasPrefix(#"42["error","#) { errors.append(text) }
            }
            return errors
        }
        for (index, error) in errors.enumerated() {
            let code = index < events.count * 2 ? "unknown_field" : "invalid_value"
            #expect(error.contains(#""code":"\#(code)""#), "\(sent[index]) → \(error)")
        }
        let relayed = try await fixture.commands(on: Topics.presenceCommands, type: "presence:update", count: 1)
        let envelope = try #require(relayed.first?.0)
        #expect(envelope.principal?.userId == "forger" && envelope.principal?.roles == [])
        #expect(envelope.principal?.socketId == sid && envelope.reply?.socketId == sid && envelope.reply?.ackId == 1)
        for topic in [Topics.presenceCommands, Topics.verificationCommands, Topics.notificationCommands] {
            let records = try await fixture.records(on: topic, count: 100, timeout: .seconds(1))
            #expect(records.count == (topic == Topics.presenceCommands ? 1 : 0), "only the good event reached \(topic)")
        }
        try await fixture.stop()
    }

    @Test("Origin on the WebSocket upgrade: a foreign one gets 403 and no session; listed and own origins upgrade")
    func origins() async throws {
        let fixture = try await GatewayFixture(environment: ["ALLOWED_ORIGINS": "http://localhost:3000"])
        func upgrade(origin: String) async throws -> String {
            try await fixture.rawHTTP(
                "GET /ws/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1:\(fixture.port)\r\nOrigin: \(origin)\r\n"
                    + "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    + "Sec-WebSocket-Version: 13\r\n\r\n", until: "\r\n\r\n")
        }
        func refused() async throws -> Int {
            let metrics = try await fixture.httpGet("/metrics").body
            let line = metrics.split(separator: "\n").first { $0.hasPrefix(#"gateway_connections_refused_total{reason="origin"} "#) }
            return line.flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
        }
        let before = try await refused()
        for origin in ["http://evil.example", "null", "http://localhost:3000.evil.example", "https://localhost:3000"] {
            let answer = try await upgrade(origin: origin)
            #expect(answer.hasPrefix("HTTP/1.1 403"), "\(origin): \(answer.prefix(40))")
        }
        #expect(try await upgrade(origin: "http://localhost:3000").hasPrefix("HTTP/1.1 101"))
        #expect(try await upgrade(origin: "http://127.0.0.1:\(fixture.port)").hasPrefix("HTTP/1.1 101"), "its own origin")
        // Each refusal counted once (the counter is the process's: other tests may add to it meanwhile).
        let counted = try await refused() - before
        #expect(counted >= 4 && counted < 8, "\(counted)")
        try await fixture.stop()
    }
}
