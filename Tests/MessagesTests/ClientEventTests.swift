import Foundation
import Messages
import Testing

@Suite("Client events")
struct ClientEventTests {
    @Test(
        "Payload-less events accept no argument, null and {}",
        arguments: [
            ClientEvent.sessionList, .sessionHeartbeat, .sessionSync, .notificationMarkAllRead, .notificationGetUnread,
        ])
    func payloadless(_ event: ClientEvent) throws {
        for argument: JSONValue? in [nil, .null, [:]] {
            let payload = try event.decodePayload(from: argument)
            #expect(type(of: payload).event == event)
        }
        #expect(type(of: try event.decodePayload(from: Data?.none)).event == event)
        #expect(type(of: try event.decodePayload(from: Data("{}".utf8))).event == event)
    }

    @Test("No argument for an event with required fields names the first one")
    func missingArgument() {
        #expect(throws: MessageError(.missingField, field: "sessionId", "is required")) {
            try ClientEvent.sessionEnd.decodePayload(from: JSONValue?.none)
        }
    }

    @Test("Unknown event names are unknown_type")
    func unknownEvent() throws {
        #expect(throws: MessageError(.unknownType, field: "event", "unknown event biometric:hack")) {
            try ClientEvent(name: "biometric:hack")
        }
        #expect(try ClientEvent(name: "session:create") == .sessionCreate)
    }

    @Test("A client-sent ipAddress on session:create is accepted and dropped")
    func ipAddressDropped() throws {
        let payload = try ClientEvent.sessionCreate.decodePayload(
            from: ["deviceInfo": "iPhone", "ipAddress": "6.6.6.6"] as JSONValue)
        let create = try #require(payload as? SessionCreate)
        #expect(create == SessionCreate(deviceInfo: "iPhone"))
        let json = try MessageCoding.jsonValue(of: create)
        #expect(json == ["deviceInfo": "iPhone"])
    }

    @Test("notification:send defaults its category to general")
    func defaultCategory() throws {
        let payload = try ClientEvent.notificationSend.decodePayload(
            from: ["targetUserId": "bob", "type": "t", "title": "x", "body": "y"] as JSONValue)
        #expect((payload as? NotificationSend)?.category == "general")
    }

    @Test("Each event knows its payload type, schema and topic")
    func mapping() {
        for event in ClientEvent.allCases {
            #expect(event.payloadType.event == event)
            #expect(event.schema == "events/\(event.rawValue.replacingOccurrences(of: ":", with: ".")).schema.json")
            #expect(Topics.spec(named: event.topic) != nil)
            if let command = event.payloadType as? any MessagePayload.Type {
                #expect(command.topic == event.topic)
                #expect(command.messageType == event.rawValue)
                #expect(command.principalRule == .gatewaySocket)
                #expect(event.isCommand)
            } else {
                #expect(event == .biometricStreamData)
                #expect(!event.isCommand)
            }
        }
        #expect(ClientEvent.biometricVerify.schema == "events/biometric.verify.schema.json")
        #expect(ClientEvent.biometricStreamData.topic == Topics.biometricFrames)
    }

    @Test("The gateway's path: event → validated payload → command envelope → service")
    func gatewayToService() throws {
        let payload = try ClientEvent.presenceJoinRoom.decodePayload(from: ["roomId": "team-1"] as JSONValue)
        let command = try #require(payload as? any MessagePayload)
        let data = try command.encodedEnvelope(
            source: Samples.gatewaySource, principal: Samples.userPrincipal, reply: Samples.reply)
        let message = try MessageCoding.decodeMessage(from: data, topic: ClientEvent.presenceJoinRoom.topic)
        #expect(message.payload as? PresenceJoinRoom == PresenceJoinRoom(roomId: "team-1"))
        #expect(message.header.reply == Samples.reply)
        #expect(message.header.principal?.socketId == Samples.userPrincipal.socketId)
    }

    @Test("Frame headers read from Kafka header pairs")
    func frameHeaders() throws {
        let headers = FrameHeaders(deviceId: "dev-1", userId: "alice", gatewayId: "gw-1", timestamp: Samples.occurredAt)
        #expect(headers.headers.map(\.name) == ["device-id", "user-id", "gateway-id", "timestamp"])
        #expect(try FrameHeaders(headers: headers.headers) == headers)
        #expect(throws: MessageError(.invalidValue, field: "device-id", "header appears more than once")) {
            try FrameHeaders(headers: headers.headers + [("device-id", "dev-2")])
        }
        #expect(throws: MessageError(.missingField, field: "gateway-id", "is required")) {
            try FrameHeaders(headers: headers.headers.filter { $0.name != "gateway-id" })
        }
    }

    @Test("Rooms and server events have the documented names")
    func names() {
        #expect(Rooms.user("alice") == "user:alice")
        #expect(Rooms.presence("team-1") == "room:team-1")
        #expect(Rooms.biometric("rec-1") == "biometric:rec-1")
        #expect(Rooms.stream("dev-1") == "stream:dev-1")
        #expect(Rooms.notifications("general") == "notifications:general")
        #expect(ServerEvent.biometricVerificationResult.rawValue == "biometric:verification-result")
        #expect(Set(ServerEvent.allCases.map(\.rawValue)).count == ServerEvent.allCases.count)
    }
}
