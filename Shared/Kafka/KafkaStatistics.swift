import Foundation
import Metrics

/// Maps librdkafka's periodic statistics JSON into swift-metrics gauges.
///
/// Labels are bounded: client id, role, and topic/partition for consumer lag.
final class KafkaStatistics: Sendable {
    private let dimensions: [(String, String)]
    private let queuedMessages: Gauge
    private let queuedBytes: Gauge
    private let requestsSent: Gauge
    private let responsesReceived: Gauge
    private let messagesSent: Gauge
    private let messagesReceived: Gauge
    private let replyQueue: Gauge

    init(clientId: String, role: String) {
        let dimensions = [("client_id", clientId), ("role", role)]
        self.dimensions = dimensions
        queuedMessages = Gauge(label: "kafka_client_queued_messages", dimensions: dimensions)
        queuedBytes = Gauge(label: "kafka_client_queued_bytes", dimensions: dimensions)
        requestsSent = Gauge(label: "kafka_client_requests_sent", dimensions: dimensions)
        responsesReceived = Gauge(label: "kafka_client_responses_received", dimensions: dimensions)
        messagesSent = Gauge(label: "kafka_client_messages_sent", dimensions: dimensions)
        messagesReceived = Gauge(label: "kafka_client_messages_received", dimensions: dimensions)
        replyQueue = Gauge(label: "kafka_client_reply_queue_ops", dimensions: dimensions)
    }

    func record(json: Data) {
        guard let object = try? JSONSerialization.jsonObject(with: json) as? [String: Any] else { return }
        func number(_ key: String) -> Double? { (object[key] as? NSNumber)?.doubleValue }
        if let v = number("msg_cnt") { queuedMessages.record(v) }
        if let v = number("msg_size") { queuedBytes.record(v) }
        if let v = number("tx") { requestsSent.record(v) }
        if let v = number("rx") { responsesReceived.record(v) }
        if let v = number("txmsgs") { messagesSent.record(v) }
        if let v = number("rxmsgs") { messagesReceived.record(v) }
        if let v = number("replyq") { replyQueue.record(v) }
        // Consumer lag per assigned partition, as librdkafka sees it.
        guard let topics = object["topics"] as? [String: Any] else { return }
        for (topic, value) in topics {
            guard let partitions = (value as? [String: Any])?["partitions"] as? [String: Any] else { continue }
            for (partition, stats) in partitions where partition != "-1" {
                guard let stats = stats as? [String: Any], let lag = (stats["consumer_lag"] as? NSNumber)?.doubleValue,
                      lag >= 0 else { continue }
                Gauge(label: "kafka_consumer_lag_messages",
                      dimensions: dimensions + [("topic", topic), ("partition", partition)]).record(lag)
            }
        }
    }
}
