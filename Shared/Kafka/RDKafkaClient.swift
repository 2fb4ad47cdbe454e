import CRdKafka
import Foundation
import Logging

/// Owns one `rd_kafka_t` and the Swift context its C callbacks reach through the opaque pointer.
///
/// `@unchecked Sendable`: librdkafka handles are thread-safe for every call this module makes on them; the
/// handle is immutable after `init` and destroyed exactly once, in `deinit`, when no Swift reference remains.
final class RDKafkaClient: @unchecked Sendable {
    enum Role: String { case producer, consumer, admin, broker }

    let handle: OpaquePointer
    let context: RDKafkaCallbackContext
    let role: Role

    init(role: Role, properties: [String: String], logger: Logger,
         onDelivery: (@Sendable (UnsafePointer<rd_kafka_message_t>) -> Void)? = nil) throws(KafkaError) {
        self.role = role
        let clientId = properties["client.id"] ?? "biometrics"
        let context = RDKafkaCallbackContext(
            logger: logger, statistics: KafkaStatistics(clientId: clientId, role: role.rawValue), onDelivery: onDelivery)
        self.context = context

        guard let conf = rd_kafka_conf_new() else {
            throw KafkaError(code: "configuration", message: "rd_kafka_conf_new failed")
        }
        var errstr = [CChar](repeating: 0, count: 512)
        for (name, value) in properties.sorted(by: { $0.key < $1.key }) {
            if rd_kafka_conf_set(conf, name, value, &errstr, errstr.count) != RD_KAFKA_CONF_OK {
                rd_kafka_conf_destroy(conf)
                let shown = KafkaConfiguration.isSecret(name) ? KafkaConfiguration.redactedValue : value
                throw KafkaError(code: "configuration",
                                 message: "property \(name)=\(shown): \(String(errorBuffer: errstr))")
            }
        }
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(context).toOpaque())
        rd_kafka_conf_set_log_cb(conf, rdkafkaLogCallback)
        rd_kafka_conf_set_error_cb(conf, rdkafkaErrorCallback)
        if properties["statistics.interval.ms"] != nil {
            rd_kafka_conf_set_stats_cb(conf, rdkafkaStatsCallback)
        }
        if onDelivery != nil {
            rd_kafka_conf_set_dr_msg_cb(conf, rdkafkaDeliveryCallback)
        }
        let type = role == .consumer ? RD_KAFKA_CONSUMER : RD_KAFKA_PRODUCER
        guard let handle = rd_kafka_new(type, conf, &errstr, errstr.count) else {
            rd_kafka_conf_destroy(conf)
            throw KafkaError(code: "configuration", message: "rd_kafka_new: \(String(errorBuffer: errstr))")
        }
        self.handle = handle
        logger.debug("kafka client created", metadata: [
            "kafka.role": "\(role.rawValue)",
            "kafka.properties": "\(KafkaConfiguration.redacted(properties).sorted(by: { $0.key < $1.key }))",
        ])
    }

    deinit {
        rd_kafka_destroy(handle)
    }

    /// Cluster metadata; `topic` nil means all topics. Blocking: call on a ``BlockingCalls`` thread.
    func metadata(topic: String?, timeoutMs: Int32) throws(KafkaError) -> [TopicMetadata] {
        var md: UnsafePointer<rd_kafka_metadata>?
        var topicHandle: OpaquePointer?
        if let topic { topicHandle = rd_kafka_topic_new(handle, topic, nil) }
        defer { if let topicHandle { rd_kafka_topic_destroy(topicHandle) } }
        let err = rd_kafka_metadata(handle, topic == nil ? 1 : 0, topicHandle, &md, timeoutMs)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let md else {
            throw KafkaError(code: "admin", context: "metadata", rdError: err)
        }
        defer { rd_kafka_metadata_destroy(md) }
        var result: [TopicMetadata] = []
        for i in 0..<Int(md.pointee.topic_cnt) {
            let t = md.pointee.topics[i]
            if t.err != RD_KAFKA_RESP_ERR_NO_ERROR { continue }
            let partitions = (0..<Int(t.partition_cnt)).map { t.partitions[$0].id }
            result.append(TopicMetadata(name: String(cString: t.topic), partitions: partitions.sorted()))
        }
        return result.sorted { $0.name < $1.name }
    }

    /// Low and high watermark of one partition, asking the broker. Blocking.
    func watermarks(_ tp: TopicPartition, timeoutMs: Int32) throws(KafkaError) -> (low: Int64, high: Int64) {
        var low: Int64 = 0
        var high: Int64 = 0
        let err = rd_kafka_query_watermark_offsets(handle, tp.topic, tp.partition, &low, &high, timeoutMs)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(code: "admin", context: "watermarks of \(tp)", rdError: err)
        }
        return (low, high)
    }
}

/// What librdkafka's C callbacks reach through the client opaque.
///
/// `@unchecked Sendable`: all stored properties are immutable and themselves thread-safe (Logger is a value,
/// KafkaStatistics only touches swift-metrics handles, onDelivery is `@Sendable`).
final class RDKafkaCallbackContext: @unchecked Sendable {
    let logger: Logger
    let statistics: KafkaStatistics
    let onDelivery: (@Sendable (UnsafePointer<rd_kafka_message_t>) -> Void)?

    init(logger: Logger, statistics: KafkaStatistics,
         onDelivery: (@Sendable (UnsafePointer<rd_kafka_message_t>) -> Void)?) {
        self.logger = logger
        self.statistics = statistics
        self.onDelivery = onDelivery
    }

    static func from(_ rk: OpaquePointer?) -> RDKafkaCallbackContext? {
        guard let rk, let opaque = rd_kafka_opaque(rk) else { return nil }
        return Unmanaged<RDKafkaCallbackContext>.fromOpaque(opaque).takeUnretainedValue()
    }
}

/// Topic metadata as the cluster reports it.
public struct TopicMetadata: Sendable, Hashable {
    /// Topic name.
    public var name: String
    /// Partition ids, sorted.
    public var partitions: [Int32]
}

// C callbacks: they capture nothing and find their Swift context through rd_kafka_opaque.

private let rdkafkaLogCallback: @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?, UnsafePointer<CChar>?)
    -> Void = { rk, level, facility, buffer in
        guard let context = RDKafkaCallbackContext.from(rk) else { return }
        let swiftLevel: Logger.Level
        switch level {
        case ...3: swiftLevel = .error
        case 4: swiftLevel = .warning
        case 5: swiftLevel = .notice
        case 6: swiftLevel = .info
        default: swiftLevel = .debug
        }
        context.logger.log(
            level: swiftLevel, "\(buffer.map { String(cString: $0) } ?? "")",
            metadata: ["kafka.facility": "\(facility.map { String(cString: $0) } ?? "")"])
    }

private let rdkafkaErrorCallback: @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?, UnsafeMutableRawPointer?)
    -> Void = { rk, err, reason, _ in
        guard let context = RDKafkaCallbackContext.from(rk) else { return }
        let name = String(cString: rd_kafka_err2name(rd_kafka_resp_err_t(err)))
        // Transport errors are routine while a broker restarts; librdkafka retries them itself.
        context.logger.warning(
            "kafka client error: \(reason.map { String(cString: $0) } ?? name)", metadata: ["kafka.error": "\(name)"])
    }

private let rdkafkaStatsCallback: @convention(c) (OpaquePointer?, UnsafeMutablePointer<CChar>?, Int, UnsafeMutableRawPointer?)
    -> Int32 = { rk, json, length, _ in
        guard let context = RDKafkaCallbackContext.from(rk), let json else { return 0 }
        let data = Data(bytes: json, count: length)
        context.statistics.record(json: data)
        return 0  // librdkafka frees the buffer
    }

private let rdkafkaDeliveryCallback: @convention(c) (OpaquePointer?, UnsafePointer<rd_kafka_message_t>?, UnsafeMutableRawPointer?)
    -> Void = { rk, message, _ in
        guard let context = RDKafkaCallbackContext.from(rk), let message else { return }
        context.onDelivery?(message)
    }

extension String {
    /// Text of a NUL-terminated C error buffer.
    init(errorBuffer: [CChar]) {
        let bytes = errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        self = String(decoding: bytes, as: UTF8.self)
    }
}
