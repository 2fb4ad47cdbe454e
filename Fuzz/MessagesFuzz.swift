import Foundation

/// libFuzzer entry for untrusted JSON: every byte string is decoded as an envelope of every topic (what services
/// read from Kafka) and as the payload of every client event (what the gateway validates before relaying). Built by
/// `make fuzz` together with `Shared/Messages`. Errors are the expected answer; crashes and hangs are findings.
@_cdecl("LLVMFuzzerTestOneInput")
public func messagesFuzz(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    let data = start.map { Data(bytes: $0, count: count) } ?? Data()
    for spec in Topics.all {
        if let message = try? MessageCoding.decodeMessage(from: data, topic: spec.name) {
            // Whatever decodes is valid and encodes again.
            _ = try? message.payload.encodedEnvelope(source: Source(service: "fuzz", instance: "fuzz-1"))
        }
    }
    if let json = try? MessageCoding.decode(JSONValue.self, from: data) {
        for event in ClientEvent.allCases { _ = try? event.decodePayload(from: json) }
    }
    return 0
}
