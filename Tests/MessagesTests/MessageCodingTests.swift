import Foundation
import Messages
import Testing

@Suite("MessageCoding's own JSON reader and writer")
struct MessageCodingTests {
    @Test("keys are sorted at every level, strings escaped, integral numbers written without a fraction")
    func writer() throws {
        let value: JSONValue = ["b": ["z": 1, "a": 2.5], "a": "quote \" slash / tab \t", "c": [true, .null]]
        let text = String(decoding: try MessageCoding.encode(value), as: UTF8.self)
        #expect(text == #"{"a":"quote \" slash / tab \t","b":{"a":2.5,"z":1},"c":[true,null]}"#)
        #expect(try MessageCoding.decode(JSONValue.self, from: Data(text.utf8)) == value)
    }

    @Test("a number beyond Double is refused when read and when written; deep nesting is refused")
    func limits() throws {
        let huge = Data(#"{"n": 1e999}"#.utf8)
        #expect(throws: MessageError.self) { try MessageCoding.decode(JSONValue.self, from: huge) }
        #expect(throws: MessageError.self) { try MessageCoding.encode(JSONValue.number(.infinity)) }
        let deep = Data((String(repeating: "[", count: 600) + String(repeating: "]", count: 600)).utf8)
        let error = #expect(throws: MessageError.self) { try MessageCoding.decode(JSONValue.self, from: deep) }
        #expect(error?.code == .invalidJSON)
        let invalidUTF8 = Data([0x22, 0xFF, 0x22])
        #expect((#expect(throws: MessageError.self) { try MessageCoding.decode(JSONValue.self, from: invalidUTF8) })?
            .code == .invalidJSON)
    }

    @Test("an envelope round-trips: dates to the millisecond, ids lowercased, the principal and reply intact")
    func envelopeRoundTrip() throws {
        let principal = Principal(userId: "u1", roles: ["USER"], socketId: "s1", gatewayId: "g1")
        let occurredAt = Date(timeIntervalSince1970: 1_790_000_000.123)
        let data = try BiometricChallenge(recordId: "rec-1").encodedEnvelope(
            occurredAt: occurredAt, source: Source(service: "gateway", instance: "g1"), principal: principal,
            reply: ReplyTo(gatewayId: "g1", socketId: "s1", ackId: 3))
        let decoded = try MessageCoding.decodeMessage(from: data, topic: Topics.verificationCommands)
        #expect(decoded.header.occurredAt == occurredAt)
        #expect(decoded.header.principal == principal)
        #expect(decoded.header.reply?.ackId == 3)
        #expect((decoded.payload as? BiometricChallenge)?.recordId == "rec-1")
        #expect(String(decoding: data, as: UTF8.self).contains(decoded.header.id.uuidString.lowercased()))
    }

    @Test("random UUIDs are version 4, RFC 4122 variant, and distinct")
    func randomUUIDs() {
        let ids = (0..<1_000).map { _ in UUID.random() }
        #expect(Set(ids).count == ids.count)
        for id in ids {
            #expect(id.uuid.6 >> 4 == 4)
            #expect(id.uuid.8 >> 6 == 0b10)
        }
    }
}
