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
    /// Asks through a consumer-type handle configured with that `group.id` that never subscribes, so it does not join
    /// the group or disturb its members (OffsetFetch only). The handle is kept for later calls.
    public func committedOffsets(group: String, partitions: [TopicPartition], timeout: Duration = .seconds(5))
        async throws -> [TopicPartition: Int64]
    {
        guard !partitions.isEmpty else { return [:] }
        let client = try groupClient(group)
        return try await BlockingCalls.run { () throws(KafkaError) in
            let list = TopicPartitionList(partitions.map { ($0.topic, $0.partition, nil) })
            let err = rd_kafka_committed(client.handle, list.pointer, timeout.milliseconds)
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
                throw KafkaError(code: "admin", context: "committed offsets of group \(group)", rdError: err)
            }
            return list.entries().reduce(into: [:]) { result, entry in
                if entry.error == RD_KAFKA_RESP_ERR_NO_ERROR && entry.offset >= 0 {
                    result[entry.topicPartition] = entry.offset
                }
            }
        }
    }

    private func groupClient(_ group: String) throws -> RDKafkaClient {
        if let existing = groupClients.withLock({ $0[group] }) { return existing }
        var properties = configuration.librdkafkaProperties(roleDefaults: ["enable.auto.commit": "false"])
        properties["group.id"] = group
        properties["statistics.interval.ms"] = nil
        properties["client.id"] = "\(configuration.clientId)-offsets"
        let created = try RDKafkaClient(role: .consumer, properties: properties, logger: logger)
        return groupClients.withLock { clients in
            if let existing = clients[group] { return existing }
            clients[group] = created
            return created
        }
    }
}
