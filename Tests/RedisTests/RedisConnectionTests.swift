import Logging
import Redis
import TestSupport
import Testing

/// Reconnects, timeouts, shutdown and logging, against a real redis-server.
@Suite("Redis connections", .timeLimit(.minutes(1)))
struct RedisConnectionTests {
    @Test func serverRestartFailsRetriablyThenRecovers() async throws {
        try await withRedis(poolSize: 2) { server, client in
            try await client.set("before", "1")
            try await server.stop()

            // Every connection of the pool sees the outage as a retriable error.
            for _ in 0..<4 {
                let error = await expectRedisError { try await client.ping() }
                #expect(error?.isRetriable == true)
                #expect(error?.code == .connectionFailed || error?.code == .connectionLost)
            }

            try await server.restart()
            // The restarted server answers PING already: the next commands reconnect (AUTH + SELECT) and succeed.
            var recovered = false
            for _ in 0..<10 where !recovered {  // bounded; expected to succeed on the first try
                do {
                    try await client.ping()
                    recovered = true
                } catch let error as RedisError where error.isRetriable {
                    try await Task.sleep(for: .milliseconds(30))
                }
            }
            #expect(recovered)
            for index in 0..<6 {  // more than the pool size: every connection is back
                try await client.set("after-\(index)", "v")
                #expect(try await client.get("after-\(index)") == "v")
            }
            #expect(try await client.get("before") == nil)  // a new server without persistence
            #expect(try await client.send(["CLIENT", "INFO"]).string?.contains("db=3") == true)
        }
    }

    @Test func commandInFlightWhenServerStopsFailsRetriably() async throws {
        try await withRedis(poolSize: 1) { server, client in
            let blocked = Task { try await client.send(["BLPOP", "never", "30"]) }
            // Wait (bounded) until the server reports the client as blocked, so the command is really in flight.
            let observer = try RedisClient(
                configuration: RedisConfiguration(url: server.url, poolSize: 1), logger: testLogger())
            var isBlocked = false
            for _ in 0..<200 where !isBlocked {
                let info = try #require(try await observer.send(["INFO", "clients"]).string)
                isBlocked = info.contains("blocked_clients:1")
                if !isBlocked { try await Task.sleep(for: .milliseconds(5)) }
            }
            #expect(isBlocked)
            await observer.close()
            try await server.stop()

            let error = await expectRedisError { _ = try await blocked.value }
            #expect(error?.code == .connectionLost)
            #expect(error?.isRetriable == true)
            try await server.restart()
            try await client.ping()
        }
    }

    @Test func idleConnectionsSurviveARestartWithoutErrors() async throws {
        try await withRedis(poolSize: 3) { server, client in
            for _ in 0..<3 { try await client.ping() }  // open every connection
            try await server.restart()
            // Connections closed by the server while idle are replaced before any command is written.
            for index in 0..<9 {
                try await client.set("k\(index)", "v")
            }
            #expect(try await client.scard("none") == 0)
        }
    }

    @Test func commandTimeoutIsRetriableAndConnectionRecovers() async throws {
        try await withRedis(poolSize: 1, commandTimeout: .milliseconds(200)) { _, client in
            let error = await expectRedisError { _ = try await client.send(["BLPOP", "empty-list", "5"]) }
            #expect(error?.code == .timeout)
            #expect(error?.isRetriable == true)
            // The timed-out connection was dropped; the next command gets a fresh one, not the stale reply.
            try await client.set("x", "1")
            #expect(try await client.get("x") == "1")
        }
    }

    @Test func noServerGivesRetriableConnectionFailed() async throws {
        let server = try await RedisServerProcess.start()
        let url = server.url
        try await server.stop()
        let client = try RedisClient(
            configuration: RedisConfiguration(url: url, connectTimeout: .seconds(1), poolSize: 1),
            logger: testLogger())
        let error = await expectRedisError { try await client.ping() }
        #expect(error?.code == .connectionFailed)
        #expect(error?.isRetriable == true)
        #expect(error?.message.contains("127.0.0.1") == true)
        await client.close()
    }

    @Test func wrongPasswordIsAHandshakeFailure() async throws {
        let server = try await RedisServerProcess.start(password: "right")
        let client = try RedisClient(
            configuration: RedisConfiguration(url: "redis://:wrong@127.0.0.1:\(server.port)", poolSize: 1),
            logger: testLogger())
        let error = await expectRedisError { try await client.ping() }
        #expect(error?.code == .handshakeFailed)
        #expect(error?.isRetriable == false)
        #expect(error?.message.contains("wrong") == false)
        await client.close()
        try await server.stop()
    }

    @Test func closeStopsCommandsWithAClearError() async throws {
        try await withRedis { _, client in
            try await client.set("k", "v")
            await client.close()
            let error = await expectRedisError { _ = try await client.get("k") }
            #expect(error?.code == .clientClosed)
            #expect(error?.isRetriable == false)
            #expect(error?.message == "the Redis client is closed")
            let pipelineError = await expectRedisError { _ = try await client.pipeline([["PING"]]) }
            #expect(pipelineError?.code == .clientClosed)
            await client.close()  // idempotent
        }
    }

    @Test func closeClosesServerConnections() async throws {
        try await withRedis(poolSize: 3) { server, client in
            // Concurrent blocking commands open every connection (an idle pool uses its first one).
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<30 { group.addTask { _ = try await client.send(["BLPOP", "test:never-filled", "0.2"]) } }
                try await group.waitForAll()
            }
            let observer = try RedisClient(
                configuration: RedisConfiguration(url: server.url, poolSize: 1), logger: testLogger())
            let before = try #require(try await observer.send(["CLIENT", "LIST"]).string)
            #expect(before.split(separator: "\n").count == 4)  // the pool's three and the observer
            await client.close()
            // close() returns only after every socket is closed; the server notices within its event loop tick.
            var remaining = 4
            for _ in 0..<50 where remaining != 1 {
                let list = try #require(try await observer.send(["CLIENT", "LIST"]).string)
                remaining = list.split(separator: "\n").count
                if remaining != 1 { try await Task.sleep(for: .milliseconds(10)) }
            }
            #expect(remaining == 1)
            await observer.close()
        }
    }

    @Test func logsUseDottedKeysAndNeverValuesOrPassword() async throws {
        let store = RecordingLogHandler.Store()
        let logger = Logger(label: "redis-log-test") { _ in RecordingLogHandler(store: store) }
        try await withRedis(password: "pa55word-xyz", logger: logger) { server, client in
            try await client.set("secret-key-name", "secret-value-123")
            try await server.restart()
            try await client.set("secret-key-name", "secret-value-123")
            _ = try await client.pipeline([["GET", "secret-key-name"]])
        }
        let records = store.records.withLock { $0 }
        #expect(!records.isEmpty)
        #expect(records.contains { $0.metadata["redis.command"] == "SET" })
        #expect(records.contains { $0.metadata["redis.host"] != nil })
        for record in records {
            let text = record.message + " " + record.metadata.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            #expect(!text.contains("pa55word-xyz"))
            #expect(!text.contains("secret-value-123"))
            #expect(!text.contains("secret-key-name"))
            #expect(record.level <= .info)
            for key in record.metadata.keys { #expect(key.hasPrefix("redis.")) }
        }
    }
}
