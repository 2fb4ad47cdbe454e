import Foundation
import Kafka
import Logging
import Messages
import PresenceService
import Redis
import Runtime
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// At-least-once consumption, handled once: the same command envelope twice produces one set of deliveries; a
/// command the service cannot handle goes to `deadletter` and does not block its partition.
@Suite("presence service: redeliveries, poison records, the executable", .timeLimit(.minutes(3)))
struct PresenceRedeliveryTests {
    @Test("a redelivered command (same envelope id) is answered once; a command without a principal is dead-lettered")
    func redeliveryAndPoison() async throws {
        MetricsBootstrap.bootstrap()
        var logger = Logger(label: "presence-redelivery-test")
        logger.logLevel = .error
        let broker = try await EmbeddedBroker.start(topics: Topics.all.map { NewTopic(name: $0.name, partitions: $0.partitions) },
                                        logger: logger)
        let redisServer = try await RedisServerProcess.start()
        let configuration = try PresenceServiceConfiguration(environment: EnvironmentReader([
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrapServers, "KAFKA_SESSION_TIMEOUT_MS": "6000",
            "REDIS_URL": redisServer.url, "HTTP_PORT": "0", "STATS_INTERVAL_SECONDS": "60",
            "INSTANCE_ID": "presence-redelivery", "HEALTH_INTERVAL_SECONDS": "3600",
        ]))
        let service = try PresenceServiceApplication(configuration: configuration, logger: logger)
        let running = RunningApplication(service, services: service.services, logger: logger)
        let kafka = KafkaConfiguration(bootstrapServers: broker.bootstrapServers, statisticsInterval: nil)
        let producer = EnvelopeProducer(
            producer: try KafkaProducer(configuration: KafkaProducerConfiguration(kafka: kafka), logger: logger),
            source: Source(service: "gateway", instance: "gw-x"))
        let producerTask = Task { try await producer.producer.run() }
        defer { producerTask.cancel() }

        do {
            let principal = Principal(userId: "u1", rooms: ["team-1"], socketId: "s1", gatewayId: "gw-x",
                                      remoteAddress: "10.1.2.3")
            let join = UUID()
            for _ in 0..<2 {
                try await producer.send(PresenceJoinRoom(roomId: "team-1"), key: "u1", id: join, principal: principal,
                                        reply: ReplyTo(gatewayId: "gw-x", socketId: "s1", ackId: 1))
            }
            try await producer.send(PresenceUpdate(status: .away), key: "u1", principal: principal)
            try await producer.send(PresenceUpdate(status: .away), key: "u1")  // no principal: refused as invalid

            let reader = TopicReader(bootstrapServers: broker.bootstrapServers, logger: logger)
            let statusDelivered = try await reader.records(on: Topics.gatewayDeliveries, count: 1, timeout: .seconds(60)) {
                String(decoding: $0.value, as: UTF8.self).contains("\"status\":\"away\"")
            }
            #expect(statusDelivered.count == 1, "the command after the duplicate was answered")
            // The duplicate was handled before that command (same key, same partition): count its deliveries now.
            let deliveries = try await reader.records(on: Topics.gatewayDeliveries, count: 100, timeout: .seconds(3))
            let texts = deliveries.map { String(decoding: $0.value, as: UTF8.self) }
            #expect(texts.filter { $0.contains("presence:room-members") }.count == 1, "\(texts)")
            #expect(texts.filter { $0.contains("presence:member-joined") }.count == 1)
            #expect(texts.filter { $0.contains("\"action\":\"join\"") }.count == 1)

            let deadLetters = try await reader.records(on: Topics.deadletter, count: 1, timeout: .seconds(30))
            let entry = try #require(deadLetters.first)
            let decoded = try MessageCoding.decodeMessage(from: Data(entry.value), topic: Topics.deadletter)
            let letter = try #require(decoded.payload as? DeadLetter)
            #expect(letter.originalTopic == Topics.presenceCommands)
            #expect(letter.error.contains("principal"), "\(letter.error)")
            #expect(try await service.store.isMember("team-1", userId: "u1"))
        } catch {
            try? await running.stop()
            await service.redis.close()
            try? await redisServer.stop()
            throw error
        }
        try await running.stop()
        await service.redis.close()
        try await redisServer.stop()
    }

    @Test("the executable answers /ready with Kafka and Redis up, and drains and exits 0 on SIGTERM",
          .timeLimit(.minutes(2)))
    func executableLifecycle() async throws {
        var logger = Logger(label: "presence-executable-test")
        logger.logLevel = .error
        let broker = try await EmbeddedBroker.start(topics: Topics.all.map { NewTopic(name: $0.name, partitions: $0.partitions) },
                                        logger: logger)
        let redisServer = try await RedisServerProcess.start()
        let port = try Loopback.freePort()
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("presence-\(UUID().uuidString).log")
        defer { try? FileManager.default.removeItem(at: log) }
        let service = try ChildProcess(
            executable: try RepoPaths.builtExecutable("presence-service"),
            environment: [
                "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrapServers, "KAFKA_SESSION_TIMEOUT_MS": "6000",
                "REDIS_URL": redisServer.url, "HTTP_PORT": String(port), "LOG_LEVEL": "info",
            ],
            logFile: log)
        do {
            try await waitUntil("presence-service /ready", timeout: .seconds(60), interval: .milliseconds(100)) {
                if let status = service.exitStatus { throw FixtureError("exited \(status): \(service.logTail())") }
                return try await offThePool { Loopback.httpStatus(port: port, path: "/ready") == 200 }
            }
            #expect(try await offThePool { Loopback.httpStatus(port: port, path: "/health") } == 200)
            #expect(service.signal(SIGTERM))
            let status = await service.waitForExit(timeout: .seconds(40))
            #expect(status == .exited(0), "after SIGTERM: \(String(describing: status)); \(service.logTail(lines: 30))")
        } catch {
            _ = await service.terminate(grace: .seconds(5))
            try? await redisServer.stop()
            throw error
        }
        try await redisServer.stop()
    }
}
