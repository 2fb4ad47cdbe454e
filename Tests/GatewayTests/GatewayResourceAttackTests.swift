import Foundation
import Messages
import Runtime
import Testing
import TestSupport

/// The resource-abuse attack matrix (docs/RELIABILITY.md, "Attack matrix"), each row against a real gateway process:
/// refused or bounded as documented, the gateway's resident memory back near where it was, and a bystander client
/// connected throughout still served.
@Suite("Attack matrix: resource abuse (real gateway process)", .serialized, .timeLimit(.minutes(3)))
struct GatewayResourceAttackTests {
    /// Runs `body` on the raw client off the cooperative pool, tolerating the server closing on it.
    private func untilClosed(_ client: RawWebSocketClient, _ body: @escaping @Sendable (RawWebSocketClient) throws -> Void)
        async throws
    {
        try await offThePool {
            do { try body(client) } catch {}  // a write failing because the server closed is the expected answer
            _ = try client.readUntilClosed()  // a read timeout (connection left open) fails the test
        }
    }

    /// Sends `session:heartbeat` at `perSecond` for `duration` (or until the gateway cuts the socket); returns how many
    /// events were written.
    private func flood(_ client: RawWebSocketClient, perSecond: Int = 10_000, for duration: Duration = .milliseconds(1500))
        async throws -> Int
    {
        let started = ContinuousClock.now
        var sent = 0
        while ContinuousClock.now - started < duration {
            let elapsed = ContinuousClock.now - started
            let due = Int(Double(perSecond) * (Double(elapsed.components.seconds)
                + Double(elapsed.components.attoseconds) / 1e18)) - sent
            guard due > 0 else {
                try await Task.sleep(for: .milliseconds(5))
                continue
            }
            let batch = min(due, 500)
            let written = try await offThePool { () -> Int in
                var count = 0
                do {
                    for _ in 0..<batch {
                        try client.sendText(#"42["session:heartbeat"]"#)
                        count += 1
                    }
                } catch {}
                return count
            }
            sent += written
            if written < batch { break }  // the gateway closed the socket
        }
        return sent
    }

    @Test("100 MB payloads: a WebSocket frame announcing 100 MB, a fragmented message, a polling POST — refused, never buffered")
    func hundredMegabytes() async throws {
        // A request may take a minute here: the row is about size, and 100 MB through a debug build may take a while.
        try await GatewayProcessFixture.with(environment: ["HTTP_REQUEST_TIMEOUT_MS": "60000"]) { fixture in
            let megabyte = [UInt8](repeating: 0x61, count: 1 << 20)
            let figures = try await fixture.measure("100 MB payload") {
                // One frame announcing 100 MB: refused at its header (larger than MAX_PAYLOAD_BYTES), connection closed.
                let single = try RawWebSocketClient(port: fixture.port)
                #expect(try await single.connect(token: try await fixture.token("big-1")).hasPrefix("40{"))
                try await untilClosed(single) { client in
                    try client.sendRaw(RawWebSocketClient.frameHeader(opcode: 2, length: 100_000_000))
                    for _ in 0..<100 { try client.sendRaw(megabyte) }
                }
                // A message in 64 KiB fragments: closed once the fragments pass MAX_PAYLOAD_BYTES.
                let fragmented = try RawWebSocketClient(port: fixture.port)
                #expect(try await fragmented.connect(token: try await fixture.token("big-2")).hasPrefix("40{"))
                try await untilClosed(fragmented) { client in
                    let chunk = [UInt8](repeating: 0x61, count: 65536)
                    try client.sendFrame(opcode: 1, fin: false, payload: Array(#"42["session:create",{"deviceInfo":""#.utf8))
                    for _ in 0..<1600 { try client.sendFrame(opcode: 0, fin: false, payload: chunk) }
                }
                // A polling POST of 100 MB: read and dropped past MAX_PAYLOAD_BYTES, answered 413.
                let open = try await httpGet(port: fixture.port, path: "/ws/?EIO=4&transport=polling")
                let sid = try #require(open.body.split(separator: "\"").dropFirst(3).first.map(String.init))
                let port = fixture.port
                let answer = try await offThePool { () -> String in
                    let connection = try LoopbackSocket(port: port)
                    try connection.write(Array(("POST /ws/?EIO=4&transport=polling&sid=\(sid) HTTP/1.1\r\nHost: x\r\n"
                        + "Content-Type: text/plain\r\nContent-Length: 100000000\r\nConnection: close\r\n\r\n").utf8))
                    var sent = 0
                    while sent < 100_000_000 {
                        let count = min(megabyte.count, 100_000_000 - sent)
                        try connection.write(count == megabyte.count ? megabyte : Array(megabyte.prefix(count)))
                        sent += count
                    }
                    var received: [UInt8] = []
                    while let chunk = try connection.read() { received += chunk }
                    return String(decoding: received, as: UTF8.self)
                }
                #expect(answer.hasPrefix("HTTP/1.1 413"), "\(answer.prefix(200))")
            }
            #expect(figures.peakKiB - figures.beforeKiB < 64 * 1024, "never buffered: \(figures)")
            #expect(figures.returnedToBaseline, "\(figures)")
            for user in ["big-1", "big-2"] {
                #expect(try await fixture.relayed(on: Topics.presenceCommands, by: user).isEmpty)
            }
            try await fixture.expectBystanderServed()
        }
    }

    @Test("10k tiny events/s from one socket: the burst is relayed, the rest refused (rate_limited), then the socket is cut")
    func eventFlood() async throws {
        try await GatewayProcessFixture.with { fixture in
            let flooder = try RawWebSocketClient(port: fixture.port)
            #expect(try await flooder.connect(token: try await fixture.token("flooder")).hasPrefix("40{"))
            let sent = Collector<Int>()
            let figures = try await fixture.measure("10k events/s") {
                sent.append(try await flood(flooder))
                let seen = try await offThePool { try flooder.readUntilClosed() }
                let limited = seen.filter { $0.contains(#""code":"rate_limited""#) }.count
                #expect(limited >= 50, "refusals answered with error rate_limited (\(limited))")
            }
            let total = sent.values.reduce(0, +)
            let relayed = try await fixture.relayed(on: Topics.presenceCommands, by: "flooder").count
            print("ATTACK-FLOOD sent=\(total) relayed=\(relayed)")
            // RATE_LIMIT_BURST (40) at once, RATE_LIMIT_EVENTS_PER_SECOND (20) after; generous for a slow machine.
            #expect(relayed >= 40 && relayed <= 40 + 20 * 5, "relayed \(relayed) of \(total)")
            #expect(try await fixture.metric(#"gateway_disconnects_total{reason="rate_limited"}"#) == 1)
            #expect(figures.returnedToBaseline, "\(figures)")
            try await fixture.expectBystanderServed()
        }
    }

    @Test("10k tiny events/s for 1.5 s that are never cut off: still only the token bucket's share is relayed, memory bounded")
    func sustainedFlood() async throws {
        try await GatewayProcessFixture.with(environment: ["RATE_LIMIT_DISCONNECT_AFTER": "1000000"]) { fixture in
            let flooder = try RawWebSocketClient(port: fixture.port)
            #expect(try await flooder.connect(token: try await fixture.token("sustained")).hasPrefix("40{"))
            let sent = Collector<Int>()
            let started = ContinuousClock.now
            let figures = try await fixture.measure("10k events/s sustained") {
                sent.append(try await flood(flooder))  // the flooder reads nothing meanwhile
                try await fixture.expectBystanderServed()
            }
            let total = sent.values.reduce(0, +)
            let relayed = try await fixture.relayed(on: Topics.presenceCommands, by: "sustained").count
            // The bucket refills while the gateway works through the backlog too: bound by the time until now.
            let elapsed = Double((ContinuousClock.now - started).components.seconds) + 1
            let cut = try await fixture.metric(#"gateway_disconnects_total{reason="slow_consumer"}"#)
            print("ATTACK-FLOOD-SUSTAINED sent=\(total) relayed=\(relayed) slow_consumer_disconnects=\(cut)")
            #expect(total >= 10_000, "the flood was sent (\(total))")
            #expect(relayed >= 40 && Double(relayed) <= 40 + 20 * elapsed, "relayed \(relayed) of \(total) in \(elapsed) s")
            #expect(figures.returnedToBaseline, "\(figures)")
            try await fixture.expectBystanderServed()
        }
    }

    @Test("1k connections from one user: MAX_SOCKETS_PER_USER (20) connect, 980 get CONNECT_ERROR and are closed; all released")
    func thousandConnections() async throws {
        try await GatewayProcessFixture.with(environment: ["MAX_CONNECTIONS_PER_IP_PER_MINUTE": "5000"]) { fixture in
            let token = try await fixture.token("many")
            let port = fixture.port
            let answers = Collector<String>()
            let clients = Collector<RawWebSocketClient>()
            let figures = try await fixture.measure("1k connections, one user") {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<4 {
                        group.addTask {
                            for _ in 0..<250 {
                                let client = try RawWebSocketClient(port: port)
                                clients.append(client)
                                answers.append(try await client.connect(token: token))
                            }
                        }
                    }
                    try await group.waitForAll()
                }
                // The gateway closes a refused socket's transport itself: only the admitted sockets hold sessions.
                try await waitUntil("refused sessions closed", timeout: .seconds(30), interval: .milliseconds(200)) {
                    try await fixture.sessions() == 21
                }
                try await fixture.expectBystanderServed()
                for client in clients.values { client.close() }
                try await waitUntil("every attacking session closed", timeout: .seconds(30), interval: .milliseconds(200)) {
                    try await fixture.sessions() == 1
                }
            }
            let accepted = answers.values.filter { $0.hasPrefix("40{") }.count
            let refused = answers.values.filter {
                $0 == #"44{"message":"too many connections for this user (at most 20)"}"#
            }.count
            #expect(accepted == 20 && refused == 980, "accepted \(accepted), refused \(refused)")
            #expect(figures.returnedToBaseline, "\(figures)")
            try await fixture.expectBystanderServed()
        }
    }

    @Test("slowloris: dribbled headers or bodies, silent and idle connections are closed after HTTP_REQUEST_TIMEOUT_MS")
    func slowloris() async throws {
        try await GatewayProcessFixture.with(environment: ["HTTP_REQUEST_TIMEOUT_MS": "1000"]) { fixture in
            let port = fixture.port
            let figures = try await fixture.measure("slowloris") {
                // 100 upgrades whose headers come one byte at a time, 50 connections that send nothing, 50 that got
                // an answer and then stay idle (keep-alive), and 50 polling POSTs whose body comes one byte at a time.
                let connections = try await offThePool { () -> [LoopbackSocket] in
                    var connections: [LoopbackSocket] = []
                    for index in 0..<250 {
                        let connection = try LoopbackSocket(port: port)
                        if index < 100 {
                            try connection.write(Array("GET /ws/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n".utf8))
                        } else if index >= 200 {
                            try connection.write(Array(("POST /ws/?EIO=4&transport=polling&sid=x HTTP/1.1\r\nHost: x\r\n"
                                + "Content-Type: text/plain\r\nContent-Length: 100000\r\n\r\n").utf8))
                        } else if index >= 150 {
                            try connection.write(Array("GET /health HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
                            guard try connection.read()?.starts(with: Array("HTTP/1.1 200".utf8)) == true else {
                                throw FixtureError("no answer to /health")
                            }
                        }
                        connections.append(connection)
                    }
                    return connections
                }
                // Dribble a byte every 200 ms (for at most 30 s) until the gateway has closed every connection.
                let header = Array("X-Slow: 0123456789012345678901234567890123456789\r\n".utf8)
                var round = 0
                while true {
                    let byte = header[round % header.count]
                    let open = try await offThePool { () -> Int in
                        var open = 0
                        for (index, connection) in connections.enumerated() where !connection.peerClosed {
                            open += 1
                            if index < 100 || index >= 200 { try? connection.write([byte]) }
                        }
                        return open
                    }
                    if open == 0 { break }
                    round += 1
                    guard round < 150 else {
                        Issue.record("\(open) of 250 slow connections still open after 30 s")
                        break
                    }
                    try await Task.sleep(for: .milliseconds(200))
                }
                #expect(round >= 2, "the dribblers were served for about the timeout first (\(round) rounds)")
                try await fixture.expectBystanderServed()
            }
            #expect(try await fixture.metric(#"gateway_connections_refused_total{reason="request_timeout"}"#) >= 250)
            #expect(figures.returnedToBaseline, "\(figures)")
            #expect(try await httpGet(port: port, path: "/health").status == 200)
        }
    }

    @Test("polling session flood: handshakes never upgraded nor connected are bounded per address and expire")
    func pollingFlood() async throws {
        try await GatewayProcessFixture.with(environment: ["CONNECT_TIMEOUT_MS": "1500", "PING_TIMEOUT_MS": "1000"]) {
            fixture in
            let port = fixture.port
            var statuses: [Int] = []
            let figures = try await fixture.measure("polling session flood") {
                statuses = try await offThePool {
                    (0..<400).map { _ in Loopback.httpStatus(port: port, path: "/ws/?EIO=4&transport=polling") ?? 0 }
                }
                #expect(try await fixture.sessions() > 1)
                try await waitUntil("the flood's sessions expired", timeout: .seconds(30), interval: .milliseconds(200)) {
                    try await fixture.sessions() == 1
                }
            }
            // MAX_CONNECTIONS_PER_IP_PER_MINUTE (300), the bystander's connection included.
            #expect(statuses.filter { $0 == 200 }.count == 299, "\(Dictionary(grouping: statuses) { $0 }.mapValues(\.count))")
            #expect(statuses.filter { $0 == 429 }.count == 101)
            #expect(figures.returnedToBaseline, "\(figures)")
            try await fixture.expectBystanderServed()
        }
    }

    @Test("deeply nested JSON and huge attachment counts close that connection; nothing is relayed")
    func nestingAndAttachments() async throws {
        try await GatewayProcessFixture.with { fixture in
            let figures = try await fixture.measure("nesting and attachments") {
                // 100 000 levels of arrays: over the parser's depth cap (64), refused without recursion.
                let nested = try RawWebSocketClient(port: fixture.port)
                #expect(try await nested.connect(token: try await fixture.token("nest-1")).hasPrefix("40{"))
                try await untilClosed(nested) { client in
                    try client.sendText(#"42["presence:update","# + String(repeating: "[", count: 100_000)
                                        + String(repeating: "]", count: 100_000) + "]")
                }
                // Within the cap but not the schema: an error event, and the socket stays.
                let shallow = try RawWebSocketClient(port: fixture.port)
                #expect(try await shallow.connect(token: try await fixture.token("nest-2")).hasPrefix("40{"))
                let deep = String(repeating: #"{"a":"#, count: 50) + "1" + String(repeating: "}", count: 50)
                try await offThePool {
                    try shallow.sendText(#"42["presence:update",{"status":\#(deep)}]"#)
                    while !(try shallow.readText().contains(#""error""#)) {}
                }
                // A million attachments announced: refused at the header (at most 10).
                let announced = try RawWebSocketClient(port: fixture.port)
                #expect(try await announced.connect(token: try await fixture.token("attach-1")).hasPrefix("40{"))
                try await untilClosed(announced) { client in
                    try client.sendText(#"451000000-["session:create",{"deviceInfo":{"_placeholder":true,"num":0}}]"#)
                }
                // Two announced, ten thousand sent: the first binary frame beyond the packet closes the connection.
                let extra = try RawWebSocketClient(port: fixture.port)
                #expect(try await extra.connect(token: try await fixture.token("attach-2")).hasPrefix("40{"))
                try await untilClosed(extra) { client in
                    try client.sendText(#"452-["session:create",{"deviceInfo":{"_placeholder":true,"num":0},"# +
                                        #""x":{"_placeholder":true,"num":1}}]"#)
                    for _ in 0..<10_000 { try client.sendFrame(opcode: 2, payload: [4, 1, 2, 3]) }
                }
            }
            for user in ["nest-1", "nest-2", "attach-1", "attach-2"] {
                #expect(try await fixture.relayed(on: Topics.presenceCommands, by: user, timeout: .seconds(1)).isEmpty)
            }
            #expect(figures.returnedToBaseline, "\(figures)")
            try await fixture.expectBystanderServed()
        }
    }
}
