import Foundation
import Kafka
import Logging
import Messages
import Runtime
import Testing
import TestSupport

/// The gateway executable as a real process (so its resident memory can be read from `/proc`) on its own embedded
/// broker, with a bystander: a client connected before an attack that must still get its deliveries during and after.
final class GatewayProcessFixture: Sendable {
    let broker: EmbeddedBroker
    let port: Int
    let process: ChildProcess
    let producer: EnvelopeProducer
    let logger: Logger
    private let directory: URL
    /// The bystander's WebSocket (user `calm`).
    let bystander: RawWebSocketClient
    private let probes = Collector<Int>()

    /// Starts the gateway with `environment` on top of the defaults and connects the bystander.
    init(environment extra: [String: String] = [:]) async throws {
        var logger = Logger(label: "gateway-attack-test")
        logger.logLevel = .warning
        self.logger = logger
        broker = try await EmbeddedBroker.start(topics: Topics.all.map { NewTopic(name: $0.name, partitions: $0.partitions) },
                                    logger: logger)
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("gw-attack-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        port = try Loopback.freePort()
        process = try ChildProcess(
            executable: try RepoPaths.builtExecutable("gateway"),
            environment: [
                "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrapServers, "KAFKA_SESSION_TIMEOUT_MS": "6000",
                "JWT_HS256_SECRET": GatewayFixture.secret, "GATEWAY_HOST": "127.0.0.1", "GATEWAY_PORT": String(port),
                "LOG_LEVEL": "warning", "INSTANCE_ID": "gw-attack-\(UUID().uuidString.prefix(8).lowercased())",
                "STATS_INTERVAL_SECONDS": "60",
            ].merging(extra) { $1 },
            logFile: directory.appendingPathComponent("gateway.log"))
        producer = EnvelopeProducer(
            producer: try KafkaProducer(configuration: KafkaProducerConfiguration(
                kafka: KafkaConfiguration(bootstrapServers: broker.bootstrapServers, statisticsInterval: nil)),
                logger: logger),
            source: Source(service: "gateway-attack-tests", instance: "t1"))
        let process = process
        let port = port
        try await waitUntil("gateway /ready on \(port)", timeout: .seconds(60), interval: .milliseconds(100)) {
            if let status = process.exitStatus { throw FixtureError("gateway exited (\(status)): \(process.logTail())") }
            return try await offThePool { Loopback.httpStatus(port: port, path: "/ready") == 200 }
        }
        bystander = try RawWebSocketClient(port: port)
        let answer = try await bystander.connect(token: try await token("calm"))
        guard answer.hasPrefix("40{") else { throw FixtureError("the bystander was refused: \(answer)") }
        try await expectBystanderServed()
    }

    /// Stops the gateway (SIGTERM, then SIGKILL) and the producer; checks the gateway was still alive until then.
    func stop() async throws {
        let exitedEarly = process.exitStatus
        _ = await process.terminate(grace: .seconds(10))
        await producer.producer.close()
        try? FileManager.default.removeItem(at: directory)
        if let exitedEarly { throw FixtureError("the gateway died during the attack (\(exitedEarly))") }
    }

    /// Runs `body` with a new fixture and stops it however `body` ends (the gateway log joins a failure).
    static func with(environment: [String: String] = [:], _ body: (GatewayProcessFixture) async throws -> Void)
        async throws
    {
        let fixture = try await GatewayProcessFixture(environment: environment)
        do {
            try await body(fixture)
        } catch {
            let log = fixture.process.logTail(lines: 40)
            try? await fixture.stop()
            throw FixtureError("\(error)\n--- gateway log ---\n\(log)")
        }
        try await fixture.stop()
    }

    /// A token for `user` signed with the gateway's secret.
    func token(_ user: String) async throws -> String {
        try await GatewayFixture.token(user)
    }

    // MARK: Memory

    /// The gateway's resident set (`VmRSS`) in KiB.
    func residentKiB() throws -> Int { try status("VmRSS") }

    /// The gateway's peak resident set (`VmHWM`) in KiB since the last ``resetPeak()``.
    func peakKiB() throws -> Int { try status("VmHWM") }

    /// Resets the peak resident set (`echo 5 > /proc/<pid>/clear_refs`).
    func resetPeak() throws {
        try "5".write(toFile: "/proc/\(process.pid)/clear_refs", atomically: false, encoding: .utf8)
    }

    private func status(_ field: String) throws -> Int {
        let text = try String(contentsOfFile: "/proc/\(process.pid)/status", encoding: .utf8)
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(field + ":") }),
              let kib = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        else { throw FixtureError("no \(field) in /proc/\(process.pid)/status") }
        return kib
    }

    /// Runs `attack` between two memory readings and returns them: the resident set before, the peak during, and the
    /// resident set once it settled within `allowance` KiB of the one before (or after `settle`, when it does not;
    /// the caller checks). The figures are printed as one `ATTACK-RSS` line for docs/RELIABILITY.md.
    func measure(_ row: String, allowanceKiB: Int = 16 * 1024, settle: Duration = .seconds(20),
                 _ attack: () async throws -> Void) async throws -> MemoryFigures {
        let before = try residentKiB()
        try resetPeak()
        try await attack()
        let peak = try peakKiB()
        var after = try residentKiB()
        let deadline = ContinuousClock.now + settle
        while after > before + allowanceKiB, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(250))
            after = try residentKiB()
        }
        let figures = MemoryFigures(beforeKiB: before, peakKiB: max(peak, after), afterKiB: after, allowanceKiB: allowanceKiB)
        print("ATTACK-RSS row=\"\(row)\" before=\(before / 1024)MiB peak=\(figures.peakKiB / 1024)MiB after=\(after / 1024)MiB")
        return figures
    }

    // MARK: The bystander and the gateway's counters

    /// Sends the bystander a delivery through Kafka and waits until it arrives (answering pings meanwhile).
    func expectBystanderServed() async throws {
        let number = probes.count + 1
        probes.append(number)
        try await producer.send(Delivery.event("test:probe", data: ["n": .number(Double(number))], to: .user("calm")),
                                key: "calm")
        let bystander = bystander
        try await offThePool {
            while true {
                let text = try bystander.readText()
                if text == "2" { try bystander.sendText("3") }
                if text.contains(#""test:probe""#), text.contains(#""n":\#(number)}"#) { return }
            }
        }
    }

    /// The value of one line of the gateway's `/metrics` (its whole name with labels), 0 when absent.
    func metric(_ name: String) async throws -> Double {
        let body = try await httpGet(port: port, path: "/metrics").body
        let line = body.split(separator: "\n").first { $0.hasPrefix(name + " ") }
        return line.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
    }

    /// Open Engine.IO sessions (the `gateway_connections` gauge).
    func sessions() async throws -> Int { Int(try await metric("gateway_connections")) }

    /// Records on `topic` whose envelope principal is `user` (reads for `timeout`: absence is the expected answer).
    func relayed(on topic: String, by user: String, timeout: Duration = .seconds(2)) async throws -> [RawEnvelope] {
        let records = try await TopicReader(bootstrapServers: broker.bootstrapServers, logger: logger)
            .records(on: topic, count: 100_000, timeout: timeout) { record in
                (try? MessageCoding.decode(RawEnvelope.self, from: Data(record.value)))?.principal?.userId == user
            }
        return try records.map { try MessageCoding.decode(RawEnvelope.self, from: Data($0.value)) }
    }
}

/// Resident memory around one attack, in KiB.
struct MemoryFigures: Sendable, CustomStringConvertible {
    var beforeKiB: Int
    var peakKiB: Int
    var afterKiB: Int
    var allowanceKiB: Int

    /// Whether the resident set came back within the allowance of where it was.
    var returnedToBaseline: Bool { afterKiB <= beforeKiB + allowanceKiB }

    var description: String {
        "RSS before \(beforeKiB / 1024) MiB, peak \(peakKiB / 1024) MiB, after \(afterKiB / 1024) MiB "
            + "(allowance \(allowanceKiB / 1024) MiB)"
    }
}
