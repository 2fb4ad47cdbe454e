import Redis
import Testing

/// `REDIS_URL` parsing and validation (no server needed).
@Suite("Redis configuration", .timeLimit(.minutes(1)))
struct RedisConfigurationTests {
    @Test func defaults() throws {
        let configuration = try RedisConfiguration.fromEnvironment([:])
        #expect(configuration == RedisConfiguration())
        #expect(configuration.host == "127.0.0.1")
        #expect(configuration.port == 6379)
        #expect(configuration.database == 0)
        #expect(configuration.password == nil)
        #expect(configuration.poolSize == 4)
        #expect(try RedisConfiguration.fromEnvironment(["REDIS_URL": ""]) == RedisConfiguration())
    }

    @Test(arguments: [
        ("redis://127.0.0.1:6379", "127.0.0.1", 6379, nil, nil, 0),
        ("redis://localhost", "localhost", 6379, nil, nil, 0),
        ("redis://cache.internal:7000/5", "cache.internal", 7000, nil, nil, 5),
        ("redis://:pw@host:1234/2", "host", 1234, nil, "pw", 2),
        ("redis://alice:pw@host/", "host", 6379, "alice", "pw", 0),
        ("redis://p%40ss%3Aword@host", "host", 6379, nil, "p@ss:word", 0),
        ("REDIS://[::1]:6390/1", "::1", 6390, nil, nil, 1),
        ("redis://:a@b@host:1", "host", 1, nil, "a@b", 0),
    ] as [(String, String, Int, String?, String?, Int)])
    func validURLs(url: String, host: String, port: Int, username: String?, password: String?, database: Int) throws {
        let configuration = try RedisConfiguration(url: url)
        #expect(configuration.host == host)
        #expect(configuration.port == port)
        #expect(configuration.username == username)
        #expect(configuration.password == password)
        #expect(configuration.database == database)
    }

    @Test(arguments: [
        ("127.0.0.1:6379", "missing scheme"),
        ("http://host:6379", "unsupported scheme 'http'"),
        ("rediss://host:6379", "TLS (rediss://) is not supported"),
        ("redis://", "host is missing"),
        ("redis://:pw@:6379", "host is missing"),
        ("redis://host:abc", "port is not a number"),
        ("redis://host:0", "port is not a number"),
        ("redis://host:70000", "port is not a number"),
        ("redis://host:", "port is not a number"),
        ("redis://host:6379/x", "database"),
        ("redis://host:6379/-1", "database"),
        ("redis://host:6379/0?timeout=1", "query parameters"),
        ("redis://[::1:6379", "unterminated IPv6"),
        ("redis://:%zz@host", "percent-encoding"),
    ])
    func invalidURLsNameTheProblem(url: String, problem: String) {
        #expect {
            _ = try RedisConfiguration(url: url)
        } throws: { error in
            guard let error = error as? RedisError else { return false }
            return error.code == .invalidConfiguration && error.message.contains(problem) && !error.isRetriable
        }
    }

    @Test func errorsNeverEchoThePassword() {
        for url in ["redis://user:hunter2/host", "redis://:hunter2@host:bad", "redis://:hunter2@host/x"] {
            do {
                _ = try RedisConfiguration(url: url)
                Issue.record("\(url) should be invalid")
            } catch {
                #expect(!"\(error)".contains("hunter2"))
            }
        }
        #expect(throws: RedisError.self) { try RedisConfiguration.fromEnvironment(["REDIS_URL": "redis://h:0"]) }
    }

    @Test func descriptionMasksThePassword() throws {
        let configuration = try RedisConfiguration(url: "redis://bob:hunter2@db:6380/4")
        #expect(configuration.description == "redis://bob:***@db:6380/4")
        #expect(!"\(configuration)".contains("hunter2"))
    }

    @Test func invalidProgrammaticConfigurationIsRejected() {
        for configuration in [
            RedisConfiguration(poolSize: 0), RedisConfiguration(port: 0), RedisConfiguration(database: -1),
            RedisConfiguration(host: ""), RedisConfiguration(commandTimeout: .zero),
        ] {
            #expect {
                _ = try RedisClient(configuration: configuration, logger: testLogger())
            } throws: { error in
                (error as? RedisError)?.code == .invalidConfiguration
            }
        }
    }

    @Test func errorCodesAreStable() {
        #expect(RedisError.Code.allCases.map(\.rawValue) == [
            "connection_failed", "connection_lost", "timeout", "protocol_error", "server_error",
            "handshake_failed", "unexpected_reply", "invalid_argument", "invalid_configuration", "client_closed",
        ])
        #expect(RedisError(code: .serverError, message: "ERR x").description == "redis server_error: ERR x")
    }

    @Test func valueAccessors() {
        #expect(RedisValue.bulk(Array("hi".utf8)).string == "hi")
        #expect(RedisValue.status("OK").string == "OK")
        #expect(RedisValue.integer(3).string == nil)
        #expect(RedisValue.integer(3).int == 3)
        #expect(RedisValue.bulk([0xff]).bytes == [0xff])
        #expect(RedisValue.array([.null]).elements == [.null])
        #expect(RedisValue.null.isNull)
        #expect(RedisValue.error("ERR").isNull == false)
    }
}
