import CRdKafka

/// The one error type of the Kafka module: a stable code, a human reason and whether a retry may help.
public struct KafkaError: Error, Sendable, CustomStringConvertible {
    /// A stable, machine-readable code (`configuration`, `produce`, `delivery`, `consume`, `admin`, `closed`, `timeout`).
    public var code: String
    /// A human-readable reason.
    public var message: String
    /// librdkafka's error name (e.g. `_MSG_TIMED_OUT`), when the error came from librdkafka.
    public var kafkaErrorName: String?
    /// Whether retrying the same operation may succeed.
    public var isRetriable: Bool

    /// Creates an error.
    public init(code: String, message: String, kafkaErrorName: String? = nil, isRetriable: Bool = false) {
        self.code = code
        self.message = message
        self.kafkaErrorName = kafkaErrorName
        self.isRetriable = isRetriable
    }

    /// A human-readable summary.
    public var description: String {
        if let kafkaErrorName { return "kafka \(code): \(message) (\(kafkaErrorName))" }
        return "kafka \(code): \(message)"
    }

    static func closed(_ what: String) -> KafkaError {
        KafkaError(code: "closed", message: "\(what) is closed")
    }

    init(code: String, context: String, rdError: rd_kafka_resp_err_t) {
        self.code = code
        self.message = "\(context): \(String(cString: rd_kafka_err2str(rdError)))"
        self.kafkaErrorName = String(cString: rd_kafka_err2name(rdError))
        self.isRetriable = KafkaError.retriable(rdError)
    }

    static func retriable(_ err: rd_kafka_resp_err_t) -> Bool {
        switch err {
        case RD_KAFKA_RESP_ERR__QUEUE_FULL, RD_KAFKA_RESP_ERR__TIMED_OUT, RD_KAFKA_RESP_ERR__MSG_TIMED_OUT,
            RD_KAFKA_RESP_ERR__TRANSPORT, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN,
            RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
            RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
            RD_KAFKA_RESP_ERR_NOT_COORDINATOR, RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE,
            RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS, RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
            return true
        default:
            return false
        }
    }
}
