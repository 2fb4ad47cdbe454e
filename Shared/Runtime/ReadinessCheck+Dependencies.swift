import Kafka
import Redis

extension ReadinessCheck {
    /// Ready while the Kafka cluster answers a metadata request within `timeout`.
    public static func kafka(_ admin: KafkaAdmin, timeout: Duration = .seconds(1)) -> ReadinessCheck {
        ReadinessCheck(name: "kafka") {
            (try? await admin.listTopics(timeout: timeout)) != nil
        }
    }

    /// Ready while Redis answers PING.
    public static func redis(_ client: RedisClient) -> ReadinessCheck {
        ReadinessCheck(name: "redis") {
            (try? await client.ping()) != nil
        }
    }
}
