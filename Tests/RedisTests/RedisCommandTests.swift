import Logging
import Redis
import TestSupport
import Testing

/// Command families against a real redis-server (with `requirepass`, database 3).
@Suite("Redis commands", .timeLimit(.minutes(1)))
struct RedisCommandTests {
    @Test func pingAndAuthSelectOnConnect() async throws {
        try await withRedis(password: "s3cret-pass", database: 3) { server, client in
            try await client.ping()
            try await client.set("db-probe", "in-3")
            let info = try await client.send(["CLIENT", "INFO"]).string ?? ""
            #expect(info.contains("db=3"))

            // The key is in database 3 only: a client on database 0 of the same server does not see it.
            let other = try RedisClient(
                configuration: RedisConfiguration(url: server.url, poolSize: 1), logger: testLogger())
            #expect(try await other.get("db-probe") == nil)
            await other.close()
        }
    }

    @Test func strings() async throws {
        try await withRedis { _, client async throws in
            #expect(try await client.get("missing") == nil)
            #expect(try await client.set("greeting", "héllo wörld ✓"))
            #expect(try await client.get("greeting") == "héllo wörld ✓")
            #expect(try await client.set("empty", ""))
            #expect(try await client.get("empty") == "")

            #expect(try await client.set("greeting", "other", condition: .ifNotExists) == false)
            #expect(try await client.get("greeting") == "héllo wörld ✓")
            #expect(try await client.set("fresh", "1", condition: .ifNotExists))
            #expect(try await client.set("absent", "x", condition: .ifExists) == false)
            #expect(try await client.get("absent") == nil)
            #expect(try await client.set("fresh", "2", condition: .ifExists))
            #expect(try await client.get("fresh") == "2")

            #expect(try await client.del(["greeting", "fresh", "missing"]) == 2)
            #expect(try await client.get("greeting") == nil)
            #expect(try await client.del([]) == 0)
        }
    }

    @Test func binaryValuesRoundTrip() async throws {
        try await withRedis { _, client async throws in
            let value: [UInt8] = Array(0...255) + [0, 13, 10, 0] + Array("$-1\r\n*2\r\n".utf8)
            let key: [UInt8] = [0x6b, 0x00, 0xff, 0x0d, 0x0a]
            #expect(try await client.send([Array("SET".utf8), key, value]) == .status("OK"))
            let reply = try await client.send([Array("GET".utf8), key])
            #expect(reply == .bulk(value))
            #expect(reply.bytes == value)
            #expect(reply.string == nil)  // not valid UTF-8
            #expect(try await client.send(["STRLEN", "missing"]) == .integer(0))

            // The text convenience refuses bytes that are not UTF-8 instead of mangling them.
            _ = try await client.send([Array("SET".utf8), Array("bin".utf8), [0xff, 0xfe]])
            let error = await expectRedisError { _ = try await client.get("bin") }
            #expect(error?.code == .unexpectedReply)
        }
    }

    @Test func expiryAndTTL() async throws {
        try await withRedis { _, client async throws in
            try await client.set("ex", "v", expiration: .seconds(100))
            let ttl = try #require(try await client.send(["TTL", "ex"]).int)
            #expect((1...100).contains(ttl), "EX set an expiry (a stalled machine may have spent some of it)")

            try await client.set("px", "v", expiration: .milliseconds(60_000))
            let pttl = try #require(try await client.send(["PTTL", "px"]).int)
            #expect((1...60_000).contains(pttl))

            try await client.set("plain", "v")
            #expect(try await client.send(["TTL", "plain"]) == .integer(-1))
            #expect(try await client.expire("plain", after: .seconds(30)))
            let newTTL = try #require(try await client.send(["TTL", "plain"]).int)
            #expect((25...30).contains(newTTL))
            #expect(try await client.expire("plain", after: .milliseconds(120_000)))
            let newPTTL = try #require(try await client.send(["PTTL", "plain"]).int)
            #expect((115_000...120_000).contains(newPTTL))
            #expect(try await client.expire("missing", after: .seconds(1)) == false)

            // A non-positive expiry deletes the key at once (server semantics, no waiting needed).
            #expect(try await client.expire("plain", after: .milliseconds(0)))
            #expect(try await client.get("plain") == nil)

            // NX with expiry: a single-use lock.
            #expect(try await client.set("lock", "a", expiration: .seconds(10), condition: .ifNotExists))
            #expect(try await client.set("lock", "b", expiration: .seconds(10), condition: .ifNotExists) == false)
            #expect(try await client.get("lock") == "a")
        }
    }

    @Test func getdelIsSingleUse() async throws {
        try await withRedis { _, client async throws in
            try await client.set("challenge", "nonce-1", expiration: .seconds(60))
            #expect(try await client.getdel("challenge") == "nonce-1")
            #expect(try await client.getdel("challenge") == nil)
            #expect(try await client.get("challenge") == nil)

            // Many concurrent consumers of one token: exactly one wins.
            try await client.set("token", "t")
            let winners = try await withThrowingTaskGroup(of: String?.self) { group in
                for _ in 0..<20 { group.addTask { try await client.getdel("token") } }
                return try await group.reduce(into: 0) { count, value in if value != nil { count += 1 } }
            }
            #expect(winners == 1)
        }
    }

    @Test func integers() async throws {
        try await withRedis { _, client async throws in
            #expect(try await client.incr("n") == 1)
            #expect(try await client.incr("n") == 2)
            #expect(try await client.incr("n", by: 40) == 42)
            #expect(try await client.incr("n", by: -50) == -8)
            #expect(try await client.get("n") == "-8")
            #expect(try await client.incr("big", by: Int64.max) == Int64.max)
        }
    }

    @Test func errorReplyIsThrownWithServerMessage() async throws {
        try await withRedis { _, client async throws in
            try await client.set("word", "abc")
            let error = await expectRedisError { _ = try await client.incr("word") }
            #expect(error?.code == .serverError)
            #expect(error?.message == "ERR value is not an integer or out of range")
            #expect(error?.isRetriable == false)

            let wrongType = await expectRedisError { _ = try await client.hget("word", "f") }
            #expect(wrongType?.code == .serverError)
            #expect(wrongType?.message.hasPrefix("WRONGTYPE") == true)

            let unknown = await expectRedisError { _ = try await client.send(["NOSUCHCOMMAND"]) }
            #expect(unknown?.message.contains("unknown command") == true)

            let empty = await expectRedisError { _ = try await client.send([String]()) }
            #expect(empty?.code == .invalidArgument)

            // The connection is still fine after error replies.
            try await client.ping()
            #expect(try await client.get("word") == "abc")
        }
    }

    @Test func hashes() async throws {
        try await withRedis { _, client async throws in
            #expect(try await client.hgetall("h") == [:])
            #expect(try await client.hset("h", ["a": "1", "b": "2", "c": ""]) == 3)
            #expect(try await client.hset("h", ["a": "10", "d": "4"]) == 1)
            #expect(try await client.hget("h", "a") == "10")
            #expect(try await client.hget("h", "c") == "")
            #expect(try await client.hget("h", "zz") == nil)
            #expect(try await client.hget("nohash", "a") == nil)
            #expect(try await client.hgetall("h") == ["a": "10", "b": "2", "c": "", "d": "4"])
            #expect(try await client.hdel("h", ["a", "b", "nope"]) == 2)
            #expect(try await client.hgetall("h") == ["c": "", "d": "4"])
        }
    }

    @Test func sets() async throws {
        try await withRedis { _, client async throws in
            #expect(try await client.smembers("s") == [])
            #expect(try await client.scard("s") == 0)
            #expect(try await client.sadd("s", ["a", "b", "c", "a"]) == 3)
            #expect(try await client.sadd("s", ["c", "d"]) == 1)
            #expect(try await client.scard("s") == 4)
            #expect(try await client.sismember("s", "b"))
            #expect(try await client.sismember("s", "z") == false)
            #expect(try await client.srem("s", ["a", "z"]) == 1)
            #expect(try await client.smembers("s") == ["b", "c", "d"])
        }
    }

    @Test func sortedSets() async throws {
        try await withRedis { _, client async throws in
            #expect(try await client.zadd("z", ["a": 3, "b": 1, "c": 2.5, "d": -1]) == 4)
            #expect(try await client.zadd("z", ["a": 0.5, "e": 10]) == 1)  // a updated, e new
            #expect(try await client.zrangebyscore("z", min: 0, max: 3) == ["a", "b", "c"])
            #expect(try await client.zrangebyscore("z", min: -.infinity, max: .infinity) == ["d", "a", "b", "c", "e"])
            #expect(try await client.zrangebyscore("z", min: -.infinity, max: .infinity, limit: 2) == ["d", "a"])
            #expect(try await client.zrangebyscore("z", min: 100, max: 200) == [])
            #expect(try await client.zrem("z", ["a", "zz"]) == 1)
            #expect(try await client.zrangebyscore("z", min: 0, max: 3) == ["b", "c"])
            #expect(try await client.send(["ZSCORE", "z", "c"]).string == "2.5")
        }
    }

    @Test func luaScriptsRunAndSurviveAScriptFlush() async throws {
        try await withRedis { _, client async throws in
            let reply = try await client.eval(
                "redis.call('SET', KEYS[1], ARGV[1]); return {redis.call('GET', KEYS[1]), #ARGV}",
                keys: ["lua-key"], arguments: ["v1", "extra"])
            #expect(reply == .array([.bulk(Array("v1".utf8)), .integer(2)]))

            let script = RedisScript("return redis.call('INCRBY', KEYS[1], ARGV[1])")
            #expect(try await client.run(script, keys: ["counter"], arguments: ["2"]) == .integer(2))
            #expect(try await client.run(script, keys: ["counter"], arguments: ["3"]) == .integer(5))
            // A server that forgot the script (restart, SCRIPT FLUSH) gets it again transparently.
            _ = try await client.send(["SCRIPT", "FLUSH"])
            #expect(try await client.run(script, keys: ["counter"], arguments: ["1"]) == .integer(6))

            let error = await expectRedisError { _ = try await client.eval("return redis.call('NOPE')") }
            #expect(error?.code == .serverError)
        }
    }

    @Test func publish() async throws {
        try await withRedis { _, client async throws in
            #expect(try await client.publish("events", "hello") == 0)  // no subscribers
        }
    }

    @Test func pipelineKeepsOrderAndErrorsInPlace() async throws {
        try await withRedis { _, client async throws in
            try await client.set("text", "not-a-number")
            var commands: [[String]] = []
            for index in 0..<1000 {
                commands.append(index == 500 ? ["INCR", "text"] : ["INCR", "counter"])
            }
            let replies = try await client.pipeline(commands)
            #expect(replies.count == 1000)
            for (index, reply) in replies.enumerated() where index != 500 {
                let expected = Int64(index < 500 ? index + 1 : index)
                if reply != .integer(expected) {
                    Issue.record("reply \(index) is \(reply), expected \(expected)")
                    break
                }
            }
            #expect(replies[500] == .error("ERR value is not an integer or out of range"))
            #expect(try await client.get("counter") == "999")

            let mixed = try await client.pipeline([
                ["SET", "p", "v"], ["GET", "p"], ["GET", "nope"], ["SADD", "ps", "a", "b"], ["SMEMBERS", "nope"],
            ])
            #expect(mixed == [.status("OK"), .bulk(Array("v".utf8)), .null, .integer(2), .array([])])
            #expect(try await client.pipeline([]) == [])
        }
    }

    @Test func concurrentSendsAcrossThePool() async throws {
        try await withRedis(poolSize: 4) { _, client async throws in
            let tasks = 400
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<tasks {
                    group.addTask {
                        try await client.set("key-\(index)", "value-\(index)")
                        let value = try await client.get("key-\(index)")
                        #expect(value == "value-\(index)")
                        _ = try await client.incr("shared")
                        let pipelined = try await client.pipeline([["INCR", "shared"], ["GET", "key-\(index)"]])
                        #expect(pipelined.count == 2)
                        #expect(pipelined[1].string == "value-\(index)")
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await client.get("shared") == String(tasks * 2))
            let clients = try #require(try await client.send(["CLIENT", "LIST"]).string)
            // The pool really has 4 connections (plus none other: the harness' PING probe is gone).
            #expect(clients.split(separator: "\n").count == 4)
        }
    }
}
