import Foundation
import Messages
import Testing

@Suite("Envelope")
struct EnvelopeTests {
    static let id = UUID(uuidString: "0B0C8A6E-4B1E-4A57-9D1E-8D0F6C1E2A3B")!

    @Test("Golden vector: sorted keys, lower-case id, millisecond UTC timestamp")
    func goldenVector() throws {
        let envelope = Envelope(
            id: Self.id, occurredAt: Date(timeIntervalSince1970: 1_796_119_200.123),
            source: Source(service: "gateway", instance: "gw-1"),
            principal: Principal(userId: "alice", roles: ["USER"], scopes: [], socketId: "s1", gatewayId: "gw-1"),
            reply: ReplyTo(gatewayId: "gw-1", socketId: "s1", ackId: 3),
            payload: BiometricSubscribe(recordId: "rec-1"))
        let json = String(decoding: try MessageCoding.encode(envelope), as: UTF8.self)
        #expect(
            json == #"{"id":"0b0c8a6e-4b1e-4a57-9d1e-8d0f6c1e2a3b","occurredAt":"2026-12-01T10:00:00.123Z","#
                + #""payload":{"recordId":"rec-1"},"principal":{"gatewayId":"gw-1","roles":["USER"],"scopes":[],"#
                + #""socketId":"s1","userId":"alice"},"reply":{"ackId":3,"gatewayId":"gw-1","socketId":"s1"},"#
                + #""source":{"instance":"gw-1","service":"gateway"},"type":"biometric:subscribe","version":1}"#)
    }

    @Test("Round trip keeps millisecond precision")
    func roundTripMilliseconds() throws {
        let envelope = Envelope(
            occurredAt: Date(timeIntervalSince1970: 1_764_410_400.123_456), source: Samples.gatewaySource,
            principal: Samples.userPrincipal, payload: PresenceUpdate(status: .away))
        let data = try MessageCoding.encode(envelope)
        #expect(String(decoding: data, as: UTF8.self).contains(#""occurredAt":"2025-11-29T10:00:00.123Z""#))
        let decoded = try MessageCoding.decode(Envelope<PresenceUpdate>.self, from: data)
        #expect(decoded.occurredAt == Date(timeIntervalSince1970: 1_764_410_400.123))
        #expect(decoded.id == envelope.id)
        #expect(decoded.payload == envelope.payload)
        #expect(decoded.principal == envelope.principal)
        #expect(decoded.header.type == "presence:update")
    }

    @Test("A raw envelope is read by type, then its payload decoded")
    func rawEnvelopeToTypedPayload() throws {
        let verify = BiometricVerify(recordId: "rec-1", challenge: "abc", signature: "def")
        let data = try verify.encodedEnvelope(
            source: Samples.gatewaySource, principal: Samples.userPrincipal, reply: Samples.reply)
        let raw = try MessageCoding.decode(RawEnvelope.self, from: data)
        #expect(raw.type == ClientEvent.biometricVerify.rawValue)
        #expect(raw.payload["recordId"] == "rec-1")
        #expect(try raw.decodePayload(as: BiometricVerify.self) == verify)
        #expect(throws: MessageError(.unknownField, field: "payload.challenge", "is not allowed")) {
            try raw.decodePayload(as: BiometricSubscribe.self)
        }
        #expect(throws: MessageError(.unknownType, field: "type", "expected biometric:subscribe, got biometric:verify"))
        {
            try MessageCoding.decode(Envelope<BiometricSubscribe>.self, from: data)
        }
    }

    @Test("decodeMessage gives the header and a typed payload to switch on")
    func decodeMessageSwitch() throws {
        let data = try SessionEnd(sessionId: "sess-9").encodedEnvelope(
            source: Samples.gatewaySource, principal: Samples.userPrincipal)
        let message = try MessageCoding.decodeMessage(from: data, topic: Topics.presenceCommands)
        switch message.payload {
        case let end as SessionEnd: #expect(end.sessionId == "sess-9")
        default: Issue.record("unexpected payload \(message.payload)")
        }
        #expect(message.header.principal?.userId == "alice")
        #expect(throws: MessageError.self) {
            try MessageCoding.decodeMessage(from: data, topic: Topics.verificationCommands)
        }
        #expect(throws: MessageError(.unknownType, "unknown topic nope")) {
            try MessageCoding.decodeMessage(from: data, topic: "nope")
        }
    }

    @Test("Encoding validates: nothing invalid is produced")
    func encodingValidates() throws {
        let bad = Delivery.control(DeliveryControl(action: .join, room: "room:a b"), to: .socket("s1"))
        #expect(
            throws: MessageError(.invalidValue, field: "control.room", "may contain only letters, digits and . _ : @ -")
        ) {
            try MessageCoding.encode(bad)
        }
        #expect(throws: MessageError.self) {
            try bad.encodedEnvelope(source: Samples.gatewaySource)
        }
        let noRoom = Delivery.control(DeliveryControl(action: .leave), to: .user("alice"))
        #expect(throws: MessageError(.missingField, field: "control.room", "is required for leave")) {
            try MessageCoding.encode(noRoom)
        }
        let badSource = Envelope(source: Source(service: "Gateway", instance: "x"), payload: SessionList())
        #expect(throws: MessageError.self) { try MessageCoding.encode(badSource) }
    }

    @Test("Malformed and oversized input")
    func malformedInput() {
        #expect(throws: MessageError(.invalidJSON, "not valid JSON")) {
            try MessageCoding.decode(RawEnvelope.self, from: Data("{\"id\":".utf8))
        }
        let big = Data(repeating: UInt8(ascii: " "), count: MessageLimits.maxMessageBytes + 1)
        #expect(throws: MessageError.self) { try MessageCoding.decode(JSONValue.self, from: big) }
        do {
            _ = try MessageCoding.decode(JSONValue.self, from: big)
        } catch {
            #expect(error.code == .tooLarge)
        }
    }

    @Test("Error messages name the field and render as code: message")
    func errorRendering() throws {
        do {
            _ = try ClientEvent.broadcastToUsers.decodePayload(
                from: ["targetUsers": ["ok", "no way"], "type": "t", "payload": 1] as JSONValue)
            Issue.record("accepted")
        } catch {
            #expect(error.field == "targetUsers[1]")
            #expect(
                error.description == "invalid_value: targetUsers[1]: may contain only letters, digits and . _ : @ -")
            #expect(
                error.errorEventData(event: "broadcast:to-users")
                    == [
                        "code": "invalid_value",
                        "message": "targetUsers[1]: may contain only letters, digits and . _ : @ -",
                        "event": "broadcast:to-users",
                    ])
        }
    }
}

@Suite("Timestamp")
struct TimestampTests {
    @Test(
        "Format and parse agree",
        arguments: [
            "1970-01-01T00:00:00.000Z", "2024-02-29T23:59:59.999Z", "1969-12-31T23:59:59.999Z",
            "2026-11-29T10:00:00.123Z", "2000-03-01T00:00:00.001Z", "9999-12-31T23:59:59.999Z",
        ])
    func roundTrip(_ text: String) throws {
        let date = try #require(Timestamp.date(from: text))
        #expect(Timestamp.string(from: date) == text)
    }

    @Test("Rounds to the nearest millisecond")
    func rounding() {
        #expect(Timestamp.string(from: Date(timeIntervalSince1970: 0.9996)) == "1970-01-01T00:00:01.000Z")
        #expect(Timestamp.string(from: Date(timeIntervalSince1970: -0.0004)) == "1970-01-01T00:00:00.000Z")
        #expect(Timestamp.string(from: Date(timeIntervalSince1970: 1.0004)) == "1970-01-01T00:00:01.000Z")
    }

    @Test(
        "Rejects anything but YYYY-MM-DDTHH:MM:SS.mmmZ",
        arguments: [
            "2023-02-29T00:00:00.000Z", "2026-11-29T24:00:00.000Z", "2026-11-29T10:60:00.000Z",
            "2026-11-29T10:00:60.000Z", "2026-11-29T10:00:00.000z", "2026-11-29T10:00:00Z",
            "2026-11-29T10:00:00.1234Z", "2026-11-29 10:00:00.000Z", "2026-11-29T10:00:00.000+00:00",
            "2026-00-10T10:00:00.000Z", "２０２６-11-29T10:00:00.000Z", "",
        ])
    func rejects(_ text: String) {
        #expect(Timestamp.date(from: text) == nil)
    }
}
