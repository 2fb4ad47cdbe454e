/// The Socket.IO placeholder `{"_placeholder": true, "num": n}` that stands for binary attachment `n` in JSON.
public struct BinaryPlaceholder: ValidatedMessage, Hashable {
    /// Index of the attachment in the packet.
    public var num: Int

    /// Creates a placeholder for attachment `num`.
    public init(num: Int) {
        self.num = num
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case placeholder = "_placeholder"
        case num
    }

    /// Decodes strictly; `_placeholder` must be `true`.
    public init(from decoder: any Decoder) throws {
        let c = try StrictContainer<CodingKeys>(decoder)
        guard try c.required(.placeholder, as: Bool.self) else {
            throw MessageError(
                .invalidValue, field: CodingPath.render(decoder.codingPath, CodingKeys.placeholder), "must be true")
        }
        self.init(num: try c.required(.num))
        try validate(at: decoder)
    }

    /// Encodes `{"_placeholder": true, "num": n}`.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(true, forKey: .placeholder)
        try c.encode(num, forKey: .num)
    }

    /// Checks the attachment index.
    public func validate() throws(MessageError) {
        try Check.range(num, "num", min: 0, max: MessageLimits.maxAttachmentIndex)
    }
}
