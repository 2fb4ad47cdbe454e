import Foundation
import Messages
import Testing

@Suite("JSONValue")
struct JSONValueTests {
    static let sample: JSONValue = [
        "null": .null, "true": true, "false": false, "int": 42, "negative": -7, "fraction": 0.25,
        "big": 9_007_199_254_740_991,
        "string": "héllo \"quoted\" / 🦊", "empty": "", "array": [1, "two", .null, [3]],
        "object": ["nested": ["deep": true]],
        "emptyArray": [], "emptyObject": [:],
    ]

    @Test("Round trip through JSON")
    func roundTrip() throws {
        let data = try MessageCoding.encode(Self.sample)
        #expect(try MessageCoding.decode(JSONValue.self, from: data) == Self.sample)
    }

    @Test("Integral numbers have no fraction; booleans stay booleans")
    func encoding() throws {
        let json: JSONValue = ["a": 1, "b": 1.5, "c": true, "d": 0]
        #expect(String(decoding: try MessageCoding.encode(json), as: UTF8.self) == #"{"a":1,"b":1.5,"c":true,"d":0}"#)
        let decoded = try MessageCoding.decode(JSONValue.self, from: Data(#"[true, 1, 0, false, 1.0]"#.utf8))
        #expect(decoded == [.bool(true), .number(1), .number(0), .bool(false), .number(1)])
    }

    @Test("Accessors")
    func accessors() {
        #expect(Self.sample["string"]?.stringValue == "héllo \"quoted\" / 🦊")
        #expect(Self.sample["int"]?.numberValue == 42)
        #expect(Self.sample["true"]?.boolValue == true)
        #expect(Self.sample["array"]?[1] == "two")
        #expect(Self.sample["array"]?[9] == nil)
        #expect(Self.sample["object"]?["nested"]?["deep"] == true)
        #expect(Self.sample["null"]?.isNull == true)
        #expect(Self.sample["missing"] == nil)
        #expect(Self.sample["array"]?.arrayValue?.count == 4)
        #expect(Self.sample["object"]?.objectValue?.keys.sorted() == ["nested"])
    }

    @Test("Not JSON is invalid_json")
    func notJSON() {
        // Foundation's parser tolerates a trailing comma ("[1,]"); everything else malformed is invalid_json.
        for text in ["", "{", "[1 2]", "nope", "{\"a\":1} trailing", "{'a':1}"] {
            do {
                _ = try MessageCoding.decode(JSONValue.self, from: Data(text.utf8))
                Issue.record("accepted \(text)")
            } catch {
                #expect(error.code == .invalidJSON, "\(text)")
            }
        }
    }
}
