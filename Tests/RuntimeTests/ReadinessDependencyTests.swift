import Foundation
import Kafka
import Logging
import Redis
import Testing
import TestSupport

@testable import Runtime

/// `/ready` against real dependencies: the embedded broker and a real redis-server.
@Suite("Readiness with real Kafka and Redis", .timeLimit(.minutes(2)))
struct ReadinessDependencyTests {
    @Test("/ready flips to 503 naming kafka when the broker stops, and back when it returns")
    func readyFollowsTheBroker() async throws {
        let logger = Logger(label: "readiness-test")
        let broker = try await EmbeddedBroker.start(topics: [NewTopic(name: "events", partitions: 1)], logger: logger)
        let admin = try KafkaAdmin(
            configuration: KafkaConfiguration(bootstrapServers: broker.bootstrapServers,
                                              properties: ["reconnect.backoff.max.ms": "500"], statisticsInterval: nil),
            logger: logger)
        let server = OpsServer(configuration: .init(host: "127.0.0.1", port: 0, readinessTimeout: .seconds(3)),
                               readinessChecks: [.kafka(admin)], logger: logger)
        try await withRunningServer(server) { port in
            #expect(try await httpGet(port: port, path: "/ready").status == 200)
            await broker.setDown()
            let down = try await poll(port: port, until: 503)
            #expect(down.json?["failing"] as? [String] == ["kafka"])
            await broker.setUp()
            _ = try await poll(port: port, until: 200)
        }
    }

    @Test("/ready flips to 503 naming redis when redis-server stops, and back after it restarts")
    func readyFollowsRedis() async throws {
        let redisServer = try await RedisServerProcess.start()
        let redis = try RedisClient(configuration: RedisConfiguration(url: redisServer.url), logger: Logger(label: "redis"))
        let server = OpsServer(configuration: .init(host: "127.0.0.1", port: 0, readinessTimeout: .seconds(2)),
                               readinessChecks: [.redis(redis)], logger: Logger(label: "ops"))
        try await withRunningServer(server) { port in
            #expect(try await httpGet(port: port, path: "/ready").status == 200)
            try await redisServer.stop()
            let down = try await poll(port: port, until: 503)
            #expect(down.json?["failing"] as? [String] == ["redis"])
            try await redisServer.restart()
            _ = try await poll(port: port, until: 200)
        }
        await redis.close()
    }

    /// Polls /ready until it answers `status` (bounded: 20 s).
    private func poll(port: Int, until status: Int, sourceLocation: SourceLocation = #_sourceLocation) async throws
        -> HTTPAnswer
    {
        var last = try await httpGet(port: port, path: "/ready")
        let deadline = ContinuousClock.now + .seconds(20)
        while last.status != status, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
            last = try await httpGet(port: port, path: "/ready")
        }
        #expect(last.status == status, "/ready answered \(last.status): \(last.body)", sourceLocation: sourceLocation)
        return last
    }
}
