import CRdKafka

extension KafkaAdmin {
    /// The consumer groups the cluster knows (ListGroups). Throws where the broker cannot answer — librdkafka's mock
    /// cluster (the embedded broker) has no ListGroups, so callers treat this as best effort.
    public func listGroups(timeout: Duration = .seconds(5)) async throws -> [String] {
        let client = client
        return try await BlockingCalls.run { () throws(KafkaError) in
            var list: UnsafePointer<rd_kafka_group_list>?
            let err = rd_kafka_list_groups(client.handle, nil, &list, timeout.milliseconds)
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let list else {
                throw KafkaError(code: "admin", context: "list groups", rdError: err)
            }
            defer { rd_kafka_group_list_destroy(list) }
            return (0..<Int(list.pointee.group_cnt)).compactMap { index in
                list.pointee.groups[index].group.map { String(cString: $0) }
            }.sorted()
        }
    }

    /// The offsets `group` has committed for `partitions` (partitions without a commit are absent).
    ///
    /// Asks the group coordinator (ListConsumerGroupOffsets, i.e. OffsetFetch) through this admin client: nothing joins
    /// the group or disturbs its members, and no handle is kept per group.
    public func committedOffsets(group: String, partitions: [TopicPartition], timeout: Duration = .seconds(5))
        async throws -> [TopicPartition: Int64]
    {
        guard !partitions.isEmpty else { return [:] }
        let client = client
        return try await BlockingCalls.run { () throws(KafkaError) in
            let list = TopicPartitionList(partitions.map { ($0.topic, $0.partition, nil) })
            guard let request = rd_kafka_ListConsumerGroupOffsets_new(group, list.pointer) else {
                throw KafkaError(code: "admin", message: "committed offsets of group \(group): bad request")
            }
            defer { rd_kafka_ListConsumerGroupOffsets_destroy(request) }
            let what = "committed offsets of group \(group)"
            return try KafkaAdmin.request(client, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS, what, timeout: timeout) {
                options, queue in
                var requests: [OpaquePointer?] = [request]
                requests.withUnsafeMutableBufferPointer { buffer in
                    rd_kafka_ListConsumerGroupOffsets(client.handle, buffer.baseAddress, 1, options, queue)
                }
            } read: { event throws(KafkaError) in
                try KafkaAdmin.offsets(in: event, what)
            }
        }
    }

    /// The offsets of a ListConsumerGroupOffsets answer.
    private static func offsets(in event: OpaquePointer, _ what: String) throws(KafkaError)
        -> [TopicPartition: Int64]
    {
        guard let result = rd_kafka_event_ListConsumerGroupOffsets_result(event) else {
            throw KafkaError(code: "admin", message: "\(what): unexpected answer")
        }
        var count = 0
        guard let groups = rd_kafka_ListConsumerGroupOffsets_result_groups(result, &count), count > 0,
              let groupResult = groups[0]
        else { return [:] }
        if let error = rd_kafka_group_result_error(groupResult) {
            let code = rd_kafka_error_code(error)
            throw KafkaError(code: "admin", context: what, rdError: code)
        }
        guard let answered = rd_kafka_group_result_partitions(groupResult) else { return [:] }
        var offsets: [TopicPartition: Int64] = [:]
        for index in 0..<Int(answered.pointee.cnt) {
            let element = answered.pointee.elems[index]
            guard element.err == RD_KAFKA_RESP_ERR_NO_ERROR, element.offset >= 0 else { continue }
            offsets[TopicPartition(topic: String(cString: element.topic), partition: element.partition)] = element.offset
        }
        return offsets
    }
}
