/// A wire value that checks its own bounds, patterns and enums; decoding always validates.
public protocol ValidatedMessage: Codable, Sendable {
    /// Throws the first violation of the value's schema, naming the field.
    func validate() throws(MessageError)
}

extension ValidatedMessage {
    /// Runs `validate()` and names fields from the decoder's position (`payload.recordId`).
    func validate(at decoder: any Decoder) throws {
        do {
            try validate()
        } catch {
            throw error.prefixed(by: decoder.codingPath)
        }
    }
}
