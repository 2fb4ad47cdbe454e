import Foundation
import Messages
import TestSupport
import Testing

/// Swift types and `schemas/` agree, checked with the real Python `jsonschema` validator in both directions.
@Suite("Schema contract")
struct ContractTests {
    /// Direction 1: every Swift-encoded sample validates against its payload schema, the envelope schema and its
    /// topic schema, and reads back through `MessageCoding.decodeMessage`.
    @Test("Swift-encoded samples validate against their schemas")
    func swiftSamplesValidate() async throws {
        var cases: [(label: String, case: SchemaCase)] = []
        for payload in Samples.allPayloads {
            cases += try Self.cases(for: payload)
        }
        for payload in Samples.clientEvents where !(payload is any MessagePayload) {
            cases += try Self.cases(forEventOnly: payload)
        }
        for headers in Samples.frameHeaders {
            let json = try MessageCoding.jsonValue(of: headers)
            cases.append(("frame-headers", SchemaCase(schema: FrameHeaders.schema, instance: json)))
            let frames = Topics.spec(named: Topics.biometricFrames)!.schema
            cases.append(("biometric.frames headers", SchemaCase(schema: frames, instance: json)))
            let pairs = headers.headers
            #expect(try FrameHeaders(headers: pairs) == headers)
        }

        let run = try await SchemaValidator.validate(cases.map(\.case))
        #expect(run.schemaErrors.isEmpty, "schema files: \(run.schemaErrors)")
        for (index, verdict) in run.results.enumerated() {
            #expect(verdict.valid, "\(cases[index].label) → \(cases[index].case.schema): \(verdict.errors)")
        }
    }

    /// Direction 2: invalid instances are rejected by the schema and by the Swift decoder with the expected code.
    @Test("Invalid samples are rejected by the schema and by Swift")
    func invalidSamplesAreRejected() async throws {
        let rejections = ContractCases.rejections
        let run = try await SchemaValidator.validate(rejections.map { SchemaCase(schema: $0.schema, instance: $0.instance) })
        #expect(run.schemaErrors.isEmpty, "schema files: \(run.schemaErrors)")
        for (rejection, verdict) in zip(rejections, run.results) {
            #expect(!verdict.valid, "schema accepted \(rejection.label)")
            let data = try rejection.instance.data
            do {
                try rejection.decode(data)
                Issue.record("Swift accepted \(rejection.label)")
            } catch {
                #expect(error.code == rejection.code, "\(rejection.label): got \(error)")
                if let field = rejection.field {
                    #expect(error.field == field, "\(rejection.label): got \(error)")
                }
                #expect(!error.message.isEmpty)
            }
        }
    }

    /// Edge cases that both sides accept.
    @Test("Valid edge samples are accepted by the schema and by Swift")
    func edgeSamplesAreAccepted() async throws {
        let acceptances = ContractCases.acceptances
        let run = try await SchemaValidator.validate(acceptances.map { SchemaCase(schema: $0.schema, instance: $0.instance) })
        for (acceptance, verdict) in zip(acceptances, run.results) {
            #expect(verdict.valid, "schema rejected \(acceptance.label): \(verdict.errors)")
            let data = try acceptance.instance.data
            do {
                try acceptance.decode(data)
            } catch {
                Issue.record("Swift rejected \(acceptance.label): \(error)")
            }
        }
    }

    /// Every schema file is exercised by the Direction 1 samples, every client event and every payload type has a
    /// sample, and every topic schema lists exactly the types the Swift catalog puts on that topic.
    @Test("Samples cover every schema, event and message type")
    func coverage() throws {
        let sampledEvents = Set(Samples.clientEvents.map { type(of: $0).event })
        #expect(sampledEvents == Set(ClientEvent.allCases))
        let sampledTypes = Set(Samples.allPayloads.map { type(of: $0).messageType })
        #expect(sampledTypes == Set(MessageCatalog.payloadTypes.map { $0.messageType }))

        var used: Set<String> = ["common.schema.json", "envelope.schema.json", FrameHeaders.schema]
        used.formUnion(ClientEvent.allCases.map(\.schema))
        used.formUnion(MessageCatalog.payloadTypes.map { $0.schema })
        used.formUnion(Topics.all.map(\.schema))
        let onDisk = try Self.schemaFiles()
        #expect(onDisk == used)

        for spec in Topics.all where spec.name != Topics.biometricFrames {
            let schema = try Self.loadSchema(spec.schema)
            let allowed = schema["allOf"]?[1]?["properties"]?["type"]?["enum"]?.arrayValue?.compactMap(\.stringValue)
            #expect(Set(allowed ?? []) == Set(spec.messageTypes), "\(spec.name)")
            #expect(!spec.messageTypes.isEmpty)
        }
        #expect(Topics.spec(named: Topics.biometricFrames)!.messageTypes.isEmpty)
    }

    /// The numbers and patterns of `MessageLimits` are the ones in the schema files.
    @Test("MessageLimits agree with the schemas")
    func limitsAgree() throws {
        typealias L = MessageLimits
        let expectations: [(file: String, path: [String], value: JSONValue)] = [
            ("common.schema.json", ["$defs", "id", "maxLength"], .number(Double(L.maxIdLength))),
            ("common.schema.json", ["$defs", "id", "pattern"], .string(L.idPattern)),
            ("common.schema.json", ["$defs", "roomId", "maxLength"], .number(Double(L.maxRoomIdLength))),
            ("common.schema.json", ["$defs", "roomId", "pattern"], .string(L.roomIdPattern)),
            ("common.schema.json", ["$defs", "category", "maxLength"], .number(Double(L.maxRoomIdLength))),
            ("common.schema.json", ["$defs", "category", "pattern"], .string(L.roomIdPattern)),
            ("common.schema.json", ["$defs", "serverRoom", "maxLength"], .number(Double(L.maxServerRoomLength))),
            ("common.schema.json", ["$defs", "serverRoom", "pattern"], .string(L.idPattern)),
            ("common.schema.json", ["$defs", "token", "maxLength"], .number(Double(L.maxTokenLength))),
            ("common.schema.json", ["$defs", "token", "pattern"], .string(L.tokenPattern)),
            ("common.schema.json", ["$defs", "eventName", "pattern"], .string(L.eventNamePattern)),
            ("common.schema.json", ["$defs", "eventName", "maxLength"], .number(Double(L.maxTokenLength))),
            ("common.schema.json", ["$defs", "messageType", "pattern"], .string(L.messageTypePattern)),
            ("common.schema.json", ["$defs", "messageType", "maxLength"], .number(Double(L.maxTokenLength))),
            ("common.schema.json", ["$defs", "serviceName", "pattern"], .string(L.serviceNamePattern)),
            ("common.schema.json", ["$defs", "reasonCode", "pattern"], .string(L.reasonCodePattern)),
            ("common.schema.json", ["$defs", "reasonText", "maxLength"], .number(Double(L.maxReasonLength))),
            ("common.schema.json", ["$defs", "timestamp", "pattern"], .string(L.timestampPattern)),
            ("common.schema.json", ["$defs", "uuid", "pattern"], .string(L.uuidPattern)),
            ("common.schema.json", ["$defs", "ackId", "maximum"], .number(Double(L.maxAckId))),
            ("common.schema.json", ["$defs", "ipAddress", "pattern"], .string(L.ipAddressPattern)),
            ("common.schema.json", ["$defs", "ipAddress", "maxLength"], .number(Double(L.maxIPAddressLength))),
            ("common.schema.json", ["$defs", "intervalSeconds", "maximum"], .number(Double(L.maxIntervalSeconds))),
            ("common.schema.json", ["$defs", "freeform", "maxProperties"], .number(Double(L.maxFreeformProperties))),
            ("common.schema.json", ["$defs", "freeform", "maxItems"], .number(Double(L.maxFreeformItems))),
            ("common.schema.json", ["$defs", "freeform", "maxLength"], .number(Double(L.maxFreeformStringLength))),
            (
                "common.schema.json", ["$defs", "freeformObject", "maxProperties"],
                .number(Double(L.maxFreeformProperties))
            ),
            ("common.schema.json", ["$defs", "challenge", "maxLength"], .number(Double(L.maxChallengeLength))),
            ("common.schema.json", ["$defs", "challenge", "pattern"], .string(L.base64urlPattern)),
            ("common.schema.json", ["$defs", "signature", "maxLength"], .number(Double(L.maxSignatureLength))),
            ("common.schema.json", ["$defs", "signature", "pattern"], .string(L.base64urlPattern)),
            ("common.schema.json", ["$defs", "base64", "pattern"], .string(L.base64Pattern)),
            ("common.schema.json", ["$defs", "topicName", "pattern"], .string(L.topicNamePattern)),
            ("common.schema.json", ["$defs", "topicName", "maxLength"], .number(Double(L.maxTopicNameLength))),
            (
                "envelope.schema.json", ["$defs", "principal", "properties", "roles", "maxItems"],
                .number(Double(L.maxRoles))
            ),
            (
                "envelope.schema.json", ["$defs", "principal", "properties", "scopes", "maxItems"],
                .number(Double(L.maxScopes))
            ),
            (
                "envelope.schema.json", ["$defs", "principal", "properties", "rooms", "maxItems"],
                .number(Double(L.maxPrincipalRooms))
            ),
            (
                "events/session.create.schema.json", ["properties", "deviceInfo", "maxLength"],
                .number(Double(L.maxDeviceInfoLength))
            ),
            (
                "events/session.create.schema.json", ["properties", "ipAddress", "maxLength"],
                .number(Double(L.maxIPAddressLength))
            ),
            (
                "events/biometric.stream-data.schema.json", ["properties", "frame", "properties", "num", "maximum"],
                .number(Double(L.maxAttachmentIndex))
            ),
            (
                "events/broadcast.to-users.schema.json", ["properties", "targetUsers", "maxItems"],
                .number(Double(L.maxTargetUsers))
            ),
            (
                "events/notification.subscribe.schema.json", ["properties", "categories", "maxItems"],
                .number(Double(L.maxCategories))
            ),
            (
                "events/notification.get-unread.schema.json", ["properties", "limit", "maximum"],
                .number(Double(L.maxUnreadLimit))
            ),
            (
                "events/notification.send.schema.json", ["properties", "title", "maxLength"],
                .number(Double(L.maxTitleLength))
            ),
            (
                "events/notification.send.schema.json", ["properties", "body", "maxLength"],
                .number(Double(L.maxBodyLength))
            ),
            (
                "events/notification.send.schema.json", ["properties", "category", "default"],
                .string(L.defaultNotificationCategory)
            ),
            (
                "messages/notification.create.schema.json", ["properties", "title", "maxLength"],
                .number(Double(L.maxTitleLength))
            ),
            (
                "messages/notification.create.schema.json", ["properties", "body", "maxLength"],
                .number(Double(L.maxBodyLength))
            ),
            (
                "messages/gateway.liveness.schema.json", ["properties", "sockets", "maxItems"],
                .number(Double(L.maxLivenessSockets))
            ),
            (
                "messages/biometric.record.schema.json", ["properties", "deviceIds", "maxItems"],
                .number(Double(L.maxDeviceIds))
            ),
            (
                "messages/biometric.record.schema.json", ["properties", "grantedRoles", "maxItems"],
                .number(Double(L.maxRoles))
            ),
            (
                "messages/biometric.record.schema.json", ["properties", "publicKey", "properties", "x", "pattern"],
                .string(L.jwkCoordinatePattern)
            ),
            (
                "messages/service.metrics.schema.json", ["properties", "text", "maxLength"],
                .number(Double(L.maxMetricsTextLength))
            ),
            (
                "messages/service.metrics.schema.json", ["properties", "format", "const"],
                .string(ServiceMetrics.prometheusTextFormat)
            ),
            (
                "messages/deadletter.entry.schema.json", ["properties", "value", "maxLength"],
                .number(Double(L.maxDeadLetterValueLength))
            ),
            (
                "messages/deadletter.entry.schema.json", ["properties", "key", "maxLength"],
                .number(Double(L.maxDeadLetterKeyLength))
            ),
            (
                "messages/deadletter.entry.schema.json", ["properties", "headers", "maxProperties"],
                .number(Double(L.maxDeadLetterHeaders))
            ),
            (
                "messages/deadletter.entry.schema.json", ["properties", "error", "maxLength"],
                .number(Double(L.maxErrorLength))
            ),
        ]
        for expectation in expectations {
            var value: JSONValue? = try Self.loadSchema(expectation.file)
            for key in expectation.path { value = value?[key] }
            #expect(value == expectation.value, "\(expectation.file) \(expectation.path.joined(separator: "/"))")
        }
    }

    // MARK: - Helpers

    static func cases<P: MessagePayload>(for payload: P) throws -> [(label: String, case: SchemaCase)] {
        let label = "\(P.messageType) \(payload)".prefix(160)
        let json = try MessageCoding.jsonValue(of: payload)
        #expect(try MessageCoding.decode(P.self, from: json) == payload, "round trip \(label)")

        let rule = P.principalRule
        let envelopeData = try payload.encodedEnvelope(
            occurredAt: Samples.occurredAt, source: Samples.gatewaySource, principal: Samples.principal(for: P.self),
            reply: rule == .gatewaySocket ? Samples.reply : nil)
        let envelope = try MessageCoding.decode(JSONValue.self, from: envelopeData)
        let decoded = try MessageCoding.decodeMessage(from: envelopeData, topic: P.topic)
        #expect(decoded.payload as? P == payload, "decodeMessage \(label)")
        #expect(decoded.type == P.messageType)

        let topicSchema = try #require(Topics.spec(named: P.topic)).schema
        return [
            ("\(label)", SchemaCase(schema: P.schema, instance: json)),
            ("envelope of \(label)", SchemaCase(schema: "envelope.schema.json", instance: envelope)),
            ("topic envelope of \(label)", SchemaCase(schema: topicSchema, instance: envelope)),
        ]
    }

    static func cases<P: ClientEventPayload>(forEventOnly payload: P) throws -> [(label: String, case: SchemaCase)] {
        let json = try MessageCoding.jsonValue(of: payload)
        #expect(try P.event.decodePayload(from: json) as? P == payload)
        return [("\(P.event.rawValue) \(payload)", SchemaCase(schema: P.event.schema, instance: json))]
    }

    static func loadSchema(_ file: String) throws -> JSONValue {
        let data = try Data(contentsOf: RepoPaths.schemas.appendingPathComponent(file))
        return try JSONDecoder().decode(JSONValue.self, from: data)
    }

    static func schemaFiles() throws -> Set<String> {
        let root = RepoPaths.schemas.standardizedFileURL.path
        guard let enumerator = FileManager.default.enumerator(atPath: root) else { return [] }
        return Set(enumerator.compactMap { $0 as? String }.filter { $0.hasSuffix(".schema.json") })
    }
}
