import Foundation
import Testing

@testable import SocketIO

@Suite("SocketIOValue JSON")
struct SocketIOValueJSONTests {
    @Test("scalars, arrays and objects parse")
    func parsesBasics() throws {
        #expect(try SocketIOValue(json: "null") == .null)
        #expect(try SocketIOValue(json: " true ") == .bool(true))
        #expect(try SocketIOValue(json: "false") == .bool(false))
        #expect(try SocketIOValue(json: "-12.5e2") == .number(-1250))
        #expect(try SocketIOValue(json: "\"hi\"") == .string("hi"))
        #expect(try SocketIOValue(json: "[1, \"2\", {\"3\": [true]}]") == [1, "2", ["3": [true]]])
        #expect(try SocketIOValue(json: "{}") == .object([:]))
        #expect(try SocketIOValue(json: "[]") == .array([]))
    }

    @Test("string escapes decode")
    func escapes() throws {
        let value = try SocketIOValue(json: #""a\"b\\c\/d\b\f\n\r\t\u0041\u00e9\u20ac\u0000""#)
        #expect(value == .string("a\"b\\c/d\u{8}\u{c}\n\r\tA\u{e9}\u{20ac}\u{0}"))
    }

    @Test("surrogate pairs combine; lone surrogates become U+FFFD")
    func surrogates() throws {
        #expect(try SocketIOValue(json: #""\ud83d\ude00""#) == .string("😀"))
        #expect(try SocketIOValue(json: #""\uD83D\uDE00x""#) == .string("😀x"))
        #expect(try SocketIOValue(json: #""\ud83dx""#) == .string("\u{FFFD}x"))
        #expect(try SocketIOValue(json: #""\ude00""#) == .string("\u{FFFD}"))
        #expect(try SocketIOValue(json: #""\ud83d\u0041""#) == .string("\u{FFFD}A"))
    }

    @Test("raw UTF-8 passes through")
    func rawUnicode() throws {
        #expect(try SocketIOValue(json: "\"héllo €😀\"") == .string("héllo €😀"))
        #expect(try SocketIOValue(jsonBytes: Array("\"é\"".utf8)) == .string("é"))
        #expect(throws: SocketIOError.self) { try SocketIOValue(jsonBytes: [0x22, 0xFF, 0x22]) }
    }

    @Test("numbers: integers, fractions, exponents, big values, negative zero")
    func numbers() throws {
        #expect(try SocketIOValue(json: "0") == .number(0))
        #expect(try SocketIOValue(json: "-0").numberValue?.sign == .minus)
        #expect(try SocketIOValue(json: "9007199254740993") == .number(9_007_199_254_740_992))  // rounds like JSON.parse
        #expect(try SocketIOValue(json: "12345678901234567890") == .number(1.2345678901234567e19))
        #expect(try SocketIOValue(json: "1E400") == .number(.infinity))  // JSON.parse gives Infinity too
        #expect(try SocketIOValue(json: "0.1") == .number(0.1))
        #expect(try SocketIOValue(json: "1e-7") == .number(1e-7))
        #expect(try SocketIOValue(json: "123456789012345") == .number(123_456_789_012_345))
    }

    @Test("number serialization is what JSON.parse reads back")
    func numberSerialization() throws {
        let cases: [(Double, String)] = [
            (25000, "25000"), (-3, "-3"), (0.1, "0.1"), (1e-7, "1e-07"), (1.5e300, "1.5e+300"),
            (9_007_199_254_740_991, "9007199254740991"), (1e20, "1e+20"), (-0.0, "0"),
        ]
        for (number, text) in cases {
            #expect(SocketIOValue.number(number).jsonString == text)
            #expect(try SocketIOValue(json: text) == .number(number))
        }
        #expect(SocketIOValue.number(.nan).jsonString == "null")
        #expect(SocketIOValue.number(.infinity).jsonString == "null")
    }

    @Test("string serialization escapes quotes, backslashes and control characters only")
    func stringSerialization() throws {
        let value = SocketIOValue.string("q\"b\\n\n\u{1e}\u{7f}é😀/")
        #expect(value.jsonString == #""q\"b\\n\n\u001e"# + "\u{7f}é😀/\"")
        #expect(try SocketIOValue(json: value.jsonString) == value)
    }

    @Test("objects keep insertion order; a repeated key keeps its place and the last value")
    func objectOrder() throws {
        let value = try SocketIOValue(json: #"{"b":1,"a":2,"b":3}"#)
        #expect(value.objectValue?.keys == ["b", "a"])
        #expect(value["b"] == 3)
        #expect(value.jsonString == #"{"b":3,"a":2}"#)
        let literal: SocketIOValue = ["z": 1, "y": [nil, true, "s"]]
        #expect(literal.jsonString == #"{"z":1,"y":[null,true,"s"]}"#)
    }

    @Test("nesting up to the depth cap parses; one more level is jsonTooDeep, without recursion blow-up")
    func depthCap() throws {
        let ok = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        #expect(throws: Never.self) { try SocketIOValue(json: ok) }
        let tooDeep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        #expect(throws: SocketIOError(.jsonTooDeep, "JSON nesting exceeds 64 levels at byte 64")) {
            try SocketIOValue(json: tooDeep)
        }
        let hostile = String(repeating: "{\"a\":", count: 1_000_000)
        #expect { try SocketIOValue(json: hostile) } throws: { ($0 as? SocketIOError)?.code == .jsonTooDeep }
    }

    @Test(
        "invalid JSON is refused",
        arguments: [
            "", " ", "[", "]", "[1,]", "[1 2]", "{\"a\"}", "{\"a\":}", "{a:1}", "{\"a\":1,}", "01", "1.", ".5",
            "+1", "-", "1e", "1e+", "tru", "nul", "NaN", "Infinity", "\"abc", "\"\\x\"", "\"\\u12\"",
            "\"\\u12G4\"", "\"a\u{1}b\"", "\"tab\there\"", "[1]x", "{} {}", "'a'",
        ])
    func invalid(_ text: String) {
        #expect { try SocketIOValue(json: text) } throws: { ($0 as? SocketIOError)?.code == .invalidJSON }
    }

    @Test("binary outside packets is written as base64")
    func binaryStandalone() {
        #expect(SocketIOValue.binary(Data([1, 2, 3, 4])).jsonString == #""AQIDBA==""#)
    }

    @Test("objects: replace keeps position, nil removes, equality ignores order")
    func objectMutation() {
        var object: SocketIOObject = ["a": 1, "b": 2, "c": 3]
        object["b"] = "two"
        object["a"] = nil
        object["d"] = .null
        #expect(object.keys == ["b", "c", "d"])
        #expect(SocketIOValue.object(object).jsonString == #"{"b":"two","c":3,"d":null}"#)
        #expect(object == ["d": nil, "c": 3, "b": "two"])
        #expect(object.count == 3 && object["a"] == nil)
    }
}
