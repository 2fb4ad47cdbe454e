import Foundation
import Kafka
import Logging
import Messages
import NotificationService
import Runtime

#if canImport(Glibc)
import Glibc
#endif

/// `biometricsctl bench notify`: the notification service end to end and its store.
///
/// Method. (1) Store: sequential `create` + `markDelivered` calls and unread-page reads on a fresh SQLite file in
/// this process (`SQLiteNotificationStore`, WAL, `synchronous = FULL`), each call timed. (2) End to end: the embedded
/// broker and the built `notification-service` run as child processes; this process produces backend
/// `notification:create` envelopes to `notification.commands` and reads `gateway.deliveries` from the end.
/// Latency: one create at a time, from produce to the `notification:new` delivery for its user on Kafka. Throughput:
/// N creates enqueued at once for many users, from the first produce to the N-th user delivery on Kafka (each create
/// is stored, then delivered to `user:<id>` and `notifications:<category>`, then marked delivered — two durable
/// transactions and two Kafka deliveries), with the service's CPU time from `/proc`.
struct NotifyBenchmark: Sendable {
    /// What to run.
    struct Options: Sendable, Codable {
        var notifications: Int
        var users: Int
        var runs: Int
        var latencySamples: Int
        var latencyWarmup: Int
        var storeWrites: Int
        var storeReads: Int
        var service: String
    }

    let options: Options
    let logger: Logger
    let progress: @Sendable (String) -> Void

    func run() async throws -> NotifyBenchmarkReport {
        let scratch = FileManager.default.temporaryDirectory
            .appendingPathComponent("biometrics-notifybench-\(getpid())", isDirectory: true)
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let machine = await MachineFacts.collect(kcatPath: "kcat", scratch: scratch)
        progress("store: \(options.storeWrites) creates, \(options.storeReads) unread pages on a fresh file")
        let store = try await measureStore(path: scratch.appendingPathComponent("store.sqlite").path)

        let broker = try await BrokerProcess.start(
            topics: Topics.all.map(\.name), partitions: 12, directory: scratch.path, prefix: [])
        defer { broker.stop() }
        let port = try Loopback.freePort()
        let service = try ChildProcess(
            executable: options.service,
            environment: [
                "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrapServers, "KAFKA_SESSION_TIMEOUT_MS": "6000",
                "HTTP_PORT": "\(port)", "NOTIFICATION_DB_PATH": scratch.appendingPathComponent("service.sqlite").path,
                "LOG_LEVEL": "warning", "STATS_INTERVAL_SECONDS": "60",
                "NOTIFICATION_MAX_UNREAD_PER_USER": "1000000",
            ],
            logFile: scratch.appendingPathComponent("notification-service.log"))
        defer { service.terminateBlocking(grace: .seconds(20)) }
        let deadline = ContinuousClock.now + .seconds(60)
        while Loopback.httpStatus(port: port, path: "/ready") != 200 {
            if let status = service.exitStatus {
                throw BenchError("notification-service exited (\(status)): \(service.logTail(lines: 20))")
            }
            guard ContinuousClock.now < deadline else { throw BenchError("notification-service not ready in 60 s") }
            try await Task.sleep(for: .milliseconds(100))
        }
        let kafka = KafkaConfiguration(bootstrapServers: broker.bootstrapServers, statisticsInterval: nil)
        let producer = EnvelopeProducer(
            producer: try KafkaProducer(configuration: KafkaProducerConfiguration(kafka: kafka), logger: logger),
            source: Source(service: "bench", instance: "bench-1"))
        let deliveries = try await followDeliveries(kafka: kafka)
        defer { Task { [producer] in await producer.producer.close() } }

        progress("end to end latency: \(options.latencyWarmup) + \(options.latencySamples) sequential creates "
            + "(the first waits for the service to join its group)")
        let latency = try await measureLatency(producer: producer, deliveries: deliveries)
        var throughput: [NotifyThroughputRun] = []
        for run in 0..<options.runs {
            progress("throughput run \(run + 1)/\(options.runs): \(options.notifications) creates for "
                + "\(options.users) users")
            throughput.append(try await measureThroughput(
                run: run, producer: producer, deliveries: deliveries, servicePID: service.pid))
        }
        await deliveries.close()
        return NotifyBenchmarkReport(
            date: Date(), machine: machine, options: options, store: store, latency: latency, throughput: throughput)
    }

    // MARK: Store

    private func measureStore(path: String) async throws -> NotifyStoreResult {
        let store = try SQLiteNotificationStore(path: path)
        defer { try? store.close() }
        var creates: [Double] = [], marks: [Double] = [], reads: [Double] = []
        let users = max(1, options.users)
        let cpu = CPUTime.ofThisProcess()
        for index in 0..<options.storeWrites {
            let command = UUID()
            let start = ContinuousClock.now
            _ = try await store.create(content(for: "u\(index % users)", index: index).content, senderId: "bench",
                                       commandId: command, now: Date(), unreadCap: 1_000_000)
            let stored = ContinuousClock.now
            try await store.markDelivered(commandId: command, now: Date())
            creates.append((stored - start).milliseconds)
            marks.append((ContinuousClock.now - stored).milliseconds)
        }
        let writeCPU = CPUTime.ofThisProcess() - cpu
        for index in 0..<options.storeReads {
            let start = ContinuousClock.now
            _ = try await store.unread(userId: "u\(index % users)", limit: 50, before: nil)
            reads.append((ContinuousClock.now - start).milliseconds)
        }
        return NotifyStoreResult(
            create: LatencyResult(milliseconds: creates, cpuSeconds: writeCPU),
            markDelivered: LatencyResult(milliseconds: marks, cpuSeconds: 0),
            unreadPage: LatencyResult(milliseconds: reads, cpuSeconds: 0))
    }

    private func content(for user: String, index: Int) -> NotificationCreate {
        NotificationCreate(
            targetUserId: user, type: "bench", title: "Notification \(index)",
            body: "A benchmark notification body of a typical length, about one sentence.",
            data: ["index": .number(Double(index))], category: "general")
    }

    // MARK: End to end

    /// A consumer of `gateway.deliveries` from the current end of every partition.
    private func followDeliveries(kafka: KafkaConfiguration) async throws -> KafkaConsumer {
        let admin = try KafkaAdmin(configuration: kafka, logger: logger)
        var assignment: [TopicPartition: KafkaOffset] = [:]
        for partition in 0..<(Topics.spec(named: Topics.gatewayDeliveries)?.partitions ?? 12) {
            let topicPartition = TopicPartition(topic: Topics.gatewayDeliveries, partition: Int32(partition))
            assignment[topicPartition] = .offset(try await admin.watermarks(topicPartition, timeout: .seconds(10)).high)
        }
        return try KafkaConsumer(configuration: KafkaConsumerConfiguration(kafka: kafka, mode: .assign(assignment)),
                                 logger: logger)
    }

    /// Whether a raw delivery is `notification:new` to a user whose id starts with `prefix` (no full decode: the
    /// envelope's keys are sorted, so the target reads `{"id":"…","kind":"user"}`).
    static func isUserNotification(_ record: KafkaMessage, userPrefix prefix: String) -> Bool {
        let text = String(decoding: record.value, as: UTF8.self)
        return text.contains("\"name\":\"notification:new\"") && text.contains("\"id\":\"\(prefix)")
            && text.contains("\"kind\":\"user\"")
    }

    private func measureLatency(producer: EnvelopeProducer, deliveries: KafkaConsumer) async throws -> LatencyResult {
        var samples: [Double] = []
        for index in 0..<(options.latencyWarmup + options.latencySamples) {
            let user = "lat-\(index)-"
            let start = ContinuousClock.now
            try await producer.send(content(for: user, index: index), key: user, principal: Self.principal)
            let timeout: Duration = index == 0 ? .seconds(60) : .seconds(20)
            while true {
                guard let record = await deliveries.nextMessage(timeout: timeout) else {
                    throw BenchError("no notification:new for \(user) within \(timeout)")
                }
                if Self.isUserNotification(record, userPrefix: user) { break }
            }
            if index >= options.latencyWarmup { samples.append((ContinuousClock.now - start).milliseconds) }
        }
        return LatencyResult(milliseconds: samples, cpuSeconds: 0)
    }

    private func measureThroughput(run: Int, producer: EnvelopeProducer, deliveries: KafkaConsumer, servicePID: pid_t)
        async throws -> NotifyThroughputRun
    {
        let prefix = "tp\(run)-"
        let cpu = ProcessProbe.cpuSeconds(pid: servicePID) ?? 0
        let start = ContinuousClock.now
        for index in 0..<options.notifications {
            let user = "\(prefix)\(index % options.users)"
            try await producer.enqueue(content(for: user, index: index), key: user, principal: Self.principal)
        }
        let produced = ContinuousClock.now - start
        var seen = 0
        while seen < options.notifications {
            guard let record = await deliveries.nextMessage(timeout: .seconds(60)) else {
                throw BenchError("only \(seen) of \(options.notifications) notifications delivered (60 s without one)")
            }
            if Self.isUserNotification(record, userPrefix: prefix) { seen += 1 }
        }
        let elapsed = (ContinuousClock.now - start).seconds
        let serviceCPU = (ProcessProbe.cpuSeconds(pid: servicePID) ?? cpu) - cpu
        return NotifyThroughputRun(
            notifications: options.notifications, seconds: elapsed, producedSeconds: produced.seconds,
            perSecond: Double(options.notifications) / elapsed,
            serviceCPUMicrosecondsPerNotification: serviceCPU * 1e6 / Double(options.notifications))
    }

    /// The backend's service principal.
    static let principal = Principal(userId: "bench", roles: ["SERVICE"], scopes: ["notifications:send"])
}

extension Duration {
    /// The duration in milliseconds.
    var milliseconds: Double { seconds * 1000 }
}
