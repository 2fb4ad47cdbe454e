import Foundation
import Messages
import Testing

@Suite("Topic catalog")
struct TopicsTests {
    @Test("Every topic once, with sensible settings")
    func catalog() {
        let names = Topics.all.map(\.name)
        #expect(Set(names).count == names.count)
        #expect(
            Set(names) == [
                Topics.verificationCommands, Topics.presenceCommands, Topics.notificationCommands,
                Topics.gatewayConnections, Topics.gatewayDeliveries, Topics.biometricFrames, Topics.biometricRecords,
                Topics.biometricVerifications, Topics.serviceMetrics, Topics.deadletter,
            ])
        for spec in Topics.all {
            #expect(spec.partitions > 0)
            #expect(!spec.keyedBy.isEmpty)
            #expect(spec.schema == "topics/\(spec.name).schema.json")
            switch spec.cleanupPolicy {
            case .compact: #expect(spec.retentionMs == nil)
            case .delete: #expect((spec.retentionMs ?? 0) > 0)
            }
        }
        let records = Topics.spec(named: Topics.biometricRecords)
        #expect(records?.cleanupPolicy == .compact)
        #expect(records?.configs == ["cleanup.policy": "compact"])
        #expect(Topics.spec(named: Topics.deadletter)?.configs["retention.ms"] == "1209600000")
        #expect(Topics.spec(named: "nope") == nil)
    }

    @Test("Every message type is unique and lives on a catalogued topic")
    func messageTypes() {
        let types = MessageCatalog.payloadTypes.map { $0.messageType }
        #expect(Set(types).count == types.count)
        for type in MessageCatalog.payloadTypes {
            #expect(Topics.spec(named: type.topic) != nil, "\(type.messageType)")
            #expect(MessageCatalog.payloadType(forType: type.messageType) == type)
        }
        #expect(MessageCatalog.payloadType(forType: "nope:nope") == nil)
        #expect(Topics.spec(named: Topics.gatewayDeliveries)?.messageTypes == ["gateway:delivery"])
    }
}
