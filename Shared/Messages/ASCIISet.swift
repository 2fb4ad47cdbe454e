/// A set of ASCII bytes built from a regex character-class body such as `A-Za-z0-9._-`.
struct ASCIISet: Sendable {
    private var low: UInt64 = 0
    private var high: UInt64 = 0

    /// Parses ranges (`a-z`) and single characters; a `-` first or last is literal.
    init(_ classBody: String) {
        let bytes = Array(classBody.utf8)
        var index = 0
        while index < bytes.count {
            if index + 2 < bytes.count, bytes[index + 1] == UInt8(ascii: "-") {
                for byte in bytes[index]...bytes[index + 2] { insert(byte) }
                index += 3
            } else {
                insert(bytes[index])
                index += 1
            }
        }
    }

    private mutating func insert(_ byte: UInt8) {
        if byte < 64 { low |= 1 << UInt64(byte) } else if byte < 128 { high |= 1 << UInt64(byte - 64) }
    }

    /// Whether `byte` is in the set.
    func contains(_ byte: UInt8) -> Bool {
        if byte < 64 { return low & (1 << UInt64(byte)) != 0 }
        if byte < 128 { return high & (1 << UInt64(byte - 64)) != 0 }
        return false
    }

    /// Whether every byte of `string` is in the set.
    func containsAll(_ string: String) -> Bool {
        string.utf8.allSatisfy(contains)
    }

    static let id = ASCIISet(MessageLimits.idCharacters)
    static let roomId = ASCIISet(MessageLimits.roomIdCharacters)
    static let token = ASCIISet(MessageLimits.tokenCharacters)
    static let ipAddress = ASCIISet(MessageLimits.ipAddressCharacters)
    static let topicName = ASCIISet(MessageLimits.topicNameCharacters)
    static let letters = ASCIISet("A-Za-z")
    static let eventNameTail = ASCIISet("A-Za-z0-9:_-")
    static let lowerLetters = ASCIISet("a-z")
    static let lowerWordTail = ASCIISet("a-z0-9-")
    static let reasonCodeTail = ASCIISet("a-z0-9_")
    static let base64url = ASCIISet("A-Za-z0-9_-")
    static let base64 = ASCIISet("A-Za-z0-9+/")
    static let hex = ASCIISet("0-9a-fA-F")
}
