/// An envelope read from a topic: its header and its validated payload (switch on the payload's type).
public struct DecodedMessage: Sendable {
    /// The envelope fields other than the payload.
    public var header: EnvelopeHeader
    /// The decoded, validated payload, e.g. `BiometricVerify`.
    public var payload: any MessagePayload

    /// Creates a decoded message.
    public init(header: EnvelopeHeader, payload: any MessagePayload) {
        self.header = header
        self.payload = payload
    }

    /// The envelope type.
    public var type: String { header.type }
}
