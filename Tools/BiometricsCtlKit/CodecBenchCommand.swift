import ArgumentParser
import Foundation
import Messages

/// `biometricsctl bench codec`: CPU per message of the envelope codec (`MessageCoding`) on the hot paths, in process.
struct CodecBenchCommand: ParsableCommand {
    /// Command description.
    static let configuration = CommandConfiguration(
        commandName: "codec",
        abstract: "CPU per message of the envelope codec on the hot paths (in process, one thread).",
        discussion: """
            Times, per operation: a gateway decoding a `gateway.deliveries` record (the result of a verify), a \
            worker decoding a `verification.commands` record, encoding each of them, and a gateway decoding a \
            client event's argument (`ClientEvent.decodePayload`). Every service spends much of its CPU here \
            (see bench/results/verify.md).
            """)

    @Option(help: "Operations timed per case (after as many untimed).")
    var iterations = 20_000

    /// Runs every case and prints µs per operation.
    func run() throws {
        let principal = Principal(userId: "user-42", roles: ["USER"], scopes: ["biometric:verify"],
                                  socketId: "Ab3dEf5hIj7lMn9pQr1t", gatewayId: "gateway-7f3a")
        let reply = ReplyTo(gatewayId: "gateway-7f3a", socketId: "Ab3dEf5hIj7lMn9pQr1t", ackId: 17)
        let source = Source(service: "verification-worker", instance: "worker-1")
        let delivery = Delivery.event(
            "biometric:verification-result",
            data: ["recordId": "rec-7", "success": true, "confidence": 1, "reason": "ok",
                   "timestamp": "2026-11-29T07:00:00.000Z"],
            to: .socket("Ab3dEf5hIj7lMn9pQr1t"), ackId: 17, gatewayId: "gateway-7f3a")
        let verify = BiometricVerify(
            recordId: "rec-7", challenge: String(repeating: "A", count: 43), signature: String(repeating: "B", count: 86))
        let deliveryBytes = try delivery.encodedEnvelope(source: source)
        let commandBytes = try verify.encodedEnvelope(source: Source(service: "gateway", instance: "gateway-7f3a"),
                                                      principal: principal, reply: reply)
        let argument = try MessageCoding.decode(JSONValue.self, from: try MessageCoding.encode(verify))

        var rows: [(String, Double)] = []
        func time(_ name: String, _ body: () throws -> Void) rethrows {
            for _ in 0..<iterations { try body() }
            let clock = ContinuousClock()
            let start = clock.now
            for _ in 0..<iterations { try body() }
            let elapsed = clock.now - start
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            rows.append((name, seconds / Double(iterations) * 1e6))
        }
        try time("decode gateway.deliveries record (\(deliveryBytes.count) B)") {
            _ = try MessageCoding.decodeMessage(from: deliveryBytes, topic: Topics.gatewayDeliveries)
        }
        try time("decode verification.commands record (\(commandBytes.count) B)") {
            _ = try MessageCoding.decodeMessage(from: commandBytes, topic: Topics.verificationCommands)
        }
        try time("encode delivery envelope") { _ = try delivery.encodedEnvelope(source: source) }
        try time("encode command envelope") {
            _ = try verify.encodedEnvelope(source: source, principal: principal, reply: reply)
        }
        try time("decode client event argument (biometric:verify)") {
            _ = try ClientEvent.biometricVerify.decodePayload(from: argument)
        }
        print("CODEC BENCHMARK (µs per operation, \(iterations) each)")
        for (name, micros) in rows {
            print("  " + BenchReport.pad(name, 56) + BenchReport.lpad(String(format: "%.2f", micros), 10))
        }
    }
}
