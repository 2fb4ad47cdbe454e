import Foundation
import Testing

@testable import Runtime

/// Asserts that `body` throws a ConfigurationError with exactly `message` and `code`.
func expectConfigurationError(
    _ message: String,
    code: ConfigurationError.Code? = nil,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> Void
) {
    do {
        try body()
        Issue.record("expected ConfigurationError \(message)", sourceLocation: sourceLocation)
    } catch let error as ConfigurationError {
        #expect(error.description == message, sourceLocation: sourceLocation)
        if let code { #expect(error.code == code, sourceLocation: sourceLocation) }
    } catch {
        Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
    }
}

@Suite("EnvironmentReader", .timeLimit(.minutes(1)))
struct EnvironmentReaderTests {
    @Test func stringValues() throws {
        let env = EnvironmentReader(["A": "  value ", "EMPTY": "", "BLANK": "   "])
        #expect(try env.string("A") == "value")
        #expect(env.string("A", default: "d") == "value")
        #expect(env.string("EMPTY", default: "d") == "d")
        #expect(env.string("BLANK", default: "d") == "d")
        #expect(env.string("UNSET", default: "d") == "d")
        #expect(env.optionalString("UNSET") == nil)
        #expect(env.optionalString("A") == "value")
        #expect(env.isSet("A") && !env.isSet("EMPTY") && !env.isSet("UNSET"))
        expectConfigurationError("JWT_ISSUER: is required but not set (expected a non-empty value)", code: .missing) {
            _ = try env.string("JWT_ISSUER")
        }
    }

    @Test func intValues() throws {
        let env = EnvironmentReader(["N": "42", "PLUS": "+7", "NEG": "-3", "BAD": "abc", "FLOAT": "1.5", "BIG": "100"])
        #expect(try env.int("N") == 42)
        #expect(try env.int("PLUS") == 7)
        #expect(try env.int("NEG") == -3)
        #expect(try env.int("UNSET", default: 5) == 5)
        #expect(try env.optionalInt("UNSET") == nil)
        #expect(try env.int("N", default: 1, range: 1...64) == 42)
        expectConfigurationError(#"BAD: "abc" is not an integer (expected an integer)"#, code: .invalid) {
            _ = try env.int("BAD")
        }
        expectConfigurationError(#"FLOAT: "1.5" is not an integer (expected an integer in 1–64)"#) {
            _ = try env.int("FLOAT", default: 3, range: 1...64)
        }
        expectConfigurationError(#"BIG: "100" is out of range (expected 1–64)"#, code: .outOfRange) {
            _ = try env.int("BIG", range: 1...64)
        }
        expectConfigurationError("WORKERS: is required but not set (expected an integer in 1–64)", code: .missing) {
            _ = try env.int("WORKERS", range: 1...64)
        }
    }

    @Test func millisecondDurations() throws {
        let env = EnvironmentReader(["PING": "25000", "ZERO": "0", "UNIT": "25s", "NEG": "-1", "HUGE": "999999"])
        #expect(try env.durationMilliseconds("PING") == .milliseconds(25000))
        #expect(try env.durationMilliseconds("ZERO") == .zero)
        #expect(try env.durationMilliseconds("UNSET", default: .seconds(20)) == .seconds(20))
        #expect(try env.optionalDurationMilliseconds("UNSET") == nil)
        expectConfigurationError(#"UNIT: "25s" is not a duration in milliseconds (expected a whole number of milliseconds, e.g. 25000)"#) {
            _ = try env.durationMilliseconds("UNIT")
        }
        expectConfigurationError(#"NEG: "-1" is not a duration in milliseconds (expected a whole number of milliseconds, e.g. 25000)"#) {
            _ = try env.durationMilliseconds("NEG", default: .seconds(1))
        }
        expectConfigurationError(#"HUGE: "999999" is out of range (expected 1–60000 ms)"#, code: .outOfRange) {
            _ = try env.durationMilliseconds("HUGE", range: .milliseconds(1)...(.seconds(60)))
        }
    }

    @Test func secondDurations() throws {
        let env = EnvironmentReader(["S": "15", "HALF": "0.5", "BAD": "abc", "NEG": "-1", "EXP": "1e3", "INF": "inf", "BIG": "7200"])
        #expect(try env.durationSeconds("S") == .seconds(15))
        #expect(try env.durationSeconds("HALF") == .milliseconds(500))
        #expect(try env.durationSeconds("UNSET", default: .seconds(15)) == .seconds(15))
        #expect(try env.optionalDurationSeconds("UNSET") == nil)
        for name in ["BAD", "NEG", "EXP", "INF"] {
            let value = env.variables[name]!
            expectConfigurationError("\(name): \"\(value)\" is not a duration in seconds (expected a number of seconds, e.g. 15 or 0.5)") {
                _ = try env.durationSeconds(name)
            }
        }
        expectConfigurationError(#"BIG: "7200" is out of range (expected 0.1–3600 s)"#) {
            _ = try env.durationSeconds("BIG", range: .milliseconds(100)...(.seconds(3600)))
        }
    }

    @Test(arguments: [
        ("true", true), ("TRUE", true), ("1", true), ("yes", true), ("On", true),
        ("false", false), ("False", false), ("0", false), ("no", false), ("OFF", false),
    ])
    func goodBooleans(value: String, expected: Bool) throws {
        let env = EnvironmentReader(["FLAG": value])
        #expect(try env.bool("FLAG") == expected)
        #expect(try env.bool("FLAG", default: !expected) == expected)
    }

    @Test func badBooleans() throws {
        let env = EnvironmentReader(["FLAG": "maybe"])
        #expect(try env.bool("UNSET", default: true))
        #expect(try env.optionalBool("UNSET") == nil)
        expectConfigurationError(#"FLAG: "maybe" is not a boolean (expected true or false (also 1/0, yes/no, on/off))"#) {
            _ = try env.bool("FLAG")
        }
    }

    @Test func urls() throws {
        let env = EnvironmentReader([
            "HTTP": "http://example.test:8080/path", "REDIS": "redis://127.0.0.1:6379", "FILE": "file:///etc/keys.json",
            "NOHOST": "localhost:6379", "JUNK": "not a url", "WRONG": "http://127.0.0.1:6379",
        ])
        #expect(try env.url("HTTP").port == 8080)
        #expect(try env.url("REDIS", schemes: ["redis", "rediss"]).host == "127.0.0.1")
        #expect(try env.url("FILE").path == "/etc/keys.json")
        let fallback = URL(string: "redis://127.0.0.1:6379")!
        #expect(try env.url("UNSET", default: fallback) == fallback)
        #expect(try env.optionalURL("UNSET") == nil)
        expectConfigurationError(#"NOHOST: "localhost:6379" is not an absolute URL (expected a URL with scheme redis or rediss)"#) {
            _ = try env.url("NOHOST", schemes: ["redis", "rediss"])
        }
        expectConfigurationError(#"JUNK: "not a url" is not an absolute URL (expected an absolute URL such as http://host:port/path)"#) {
            _ = try env.url("JUNK")
        }
        expectConfigurationError(#"WRONG: "http://127.0.0.1:6379" has scheme "http" (expected a URL with scheme redis or rediss)"#) {
            _ = try env.url("WRONG", schemes: ["redis", "rediss"])
        }
    }

    @Test func lists() throws {
        let env = EnvironmentReader(["ORIGINS": " http://a.test , http://b.test,,", "EMPTY": "", "ONE": "x"])
        #expect(env.list("ORIGINS") == ["http://a.test", "http://b.test"])
        #expect(env.list("EMPTY", default: ["d"]) == [])
        #expect(env.list("UNSET", default: ["d"]) == ["d"])
        #expect(try env.requiredList("ONE") == ["x"])
        expectConfigurationError("EMPTY: is required but not set (expected a comma-separated list with at least one item)") {
            _ = try env.requiredList("EMPTY")
        }
    }

    @Test func ports() throws {
        let env = EnvironmentReader(["GATEWAY_PORT": "3001", "ZERO": "0", "ABC": "abc", "HIGH": "65536", "NEG": "-1", "MAX": "65535"])
        #expect(try env.port("GATEWAY_PORT") == 3001)
        #expect(try env.port("MAX") == 65535)
        #expect(try env.port("ZERO", allowZero: true) == 0)
        #expect(try env.port("UNSET", default: 9464) == 9464)
        #expect(try env.optionalPort("UNSET") == nil)
        expectConfigurationError(#"ABC: "abc" is not a port number (1–65535)"#, code: .invalid) {
            _ = try env.port("ABC")
        }
        let bad = EnvironmentReader(["GATEWAY_PORT": "abc"])
        expectConfigurationError(#"GATEWAY_PORT: "abc" is not a port number (1–65535)"#) {
            _ = try bad.port("GATEWAY_PORT", default: 3001)
        }
        expectConfigurationError(#"ZERO: "0" is not a port number (1–65535)"#) { _ = try env.port("ZERO") }
        expectConfigurationError(#"HIGH: "65536" is not a port number (0–65535, 0 for any free port)"#) {
            _ = try env.port("HIGH", allowZero: true)
        }
        expectConfigurationError(#"NEG: "-1" is not a port number (1–65535)"#) { _ = try env.port("NEG") }
        expectConfigurationError("METRICS_EXPORTER_PORT: is required but not set (expected 1–65535)") {
            _ = try env.port("METRICS_EXPORTER_PORT")
        }
    }

    @Test func enums() throws {
        let env = EnvironmentReader(["FORMAT": "JSON", "EXACT": "text", "BAD": "xml"])
        #expect(try env.enum("FORMAT", as: LogFormat.self) == .json)
        #expect(try env.enum("EXACT", default: LogFormat.json) == .text)
        #expect(try env.enum("UNSET", default: LogFormat.json) == .json)
        #expect(try env.optionalEnum("UNSET", as: LogFormat.self) == nil)
        expectConfigurationError(#"BAD: "xml" is not a valid value (expected one of text, json)"#) {
            _ = try env.enum("BAD", default: LogFormat.text)
        }
        expectConfigurationError("LOG_FORMAT: is required but not set (expected one of text, json)") {
            _ = try env.enum("LOG_FORMAT", as: LogFormat.self)
        }
    }

    @Test func errorMessagesQuoteAndShortenValues() {
        let env = EnvironmentReader(["P": "1\n2\"", "LONG": String(repeating: "9", count: 100)])
        expectConfigurationError(#"P: "1\n2\"" is not a port number (1–65535)"#) { _ = try env.port("P") }
        expectConfigurationError("LONG: \"\(String(repeating: "9", count: 64))…\" is not a port number (1–65535)") {
            _ = try env.port("LONG")
        }
    }

    @Test func processEnvironmentIsTheDefault() {
        let env = EnvironmentReader()
        #expect(env.variables == ProcessInfo.processInfo.environment)
    }
}
