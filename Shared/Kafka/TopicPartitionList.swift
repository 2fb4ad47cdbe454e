import CRdKafka

/// Owns a `rd_kafka_topic_partition_list_t`, created from Swift values and destroyed in `deinit`.
///
/// Not Sendable: it lives inside one call.
final class TopicPartitionList {
    struct Entry {
        var topicPartition: TopicPartition
        var offset: Int64
        var error: rd_kafka_resp_err_t
    }

    let pointer: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>

    /// Entries of (topic, partition, offset); a nil offset leaves librdkafka's default.
    init(_ entries: [(String, Int32, Int64?)]) {
        pointer = rd_kafka_topic_partition_list_new(Int32(max(entries.count, 1)))
        for (topic, partition, offset) in entries {
            let element = rd_kafka_topic_partition_list_add(pointer, topic, partition)
            if let offset, let element { element.pointee.offset = offset }
        }
    }

    /// Takes ownership of a list librdkafka returned.
    init(owning pointer: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) {
        self.pointer = pointer
    }

    deinit {
        rd_kafka_topic_partition_list_destroy(pointer)
    }

    func entries() -> [Entry] {
        (0..<Int(pointer.pointee.cnt)).map { index in
            let element = pointer.pointee.elems[index]
            return Entry(topicPartition: TopicPartition(topic: String(cString: element.topic), partition: element.partition),
                         offset: element.offset, error: element.err)
        }
    }
}
