@testable import Kafka
import Testing

@Suite("Consumer properties")
struct KafkaConsumerConfigurationTests {
    private func properties(_ latency: KafkaConsumerConfiguration.Latency, configured: String?) -> [String: String] {
        let kafka = KafkaConfiguration(
            bootstrapServers: "127.0.0.1:9", clientId: "tests",
            properties: configured.map { ["fetch.wait.max.ms": $0] } ?? [:], statisticsInterval: nil)
        return KafkaConsumerConfiguration(kafka: kafka, mode: .group(id: "g"), latency: latency).librdkafkaProperties()
    }

    @Test("a realtime consumer keeps the configured fetch wait, 10 ms by default")
    func realtime() {
        #expect(properties(.realtime, configured: nil)["fetch.wait.max.ms"] == "10")
        #expect(properties(.realtime, configured: "1")["fetch.wait.max.ms"] == "1")
    }

    @Test("a background consumer waits at least 100 ms, longer when configured so")
    func background() {
        #expect(properties(.background, configured: nil)["fetch.wait.max.ms"] == "100")
        #expect(properties(.background, configured: "1")["fetch.wait.max.ms"] == "100")
        #expect(properties(.background, configured: "500")["fetch.wait.max.ms"] == "500")
    }
}
