import Foundation
import Messages
import Testing

@Suite("base64url")
struct Base64URLTests {
    @Test("round-trips every length 0…70 and matches Foundation's base64 with the URL alphabet, unpadded")
    func roundTrip() {
        var generator = SystemRandomNumberGenerator()
        for length in 0...70 {
            let bytes = (0..<length).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
            let text = Base64URL.encode(bytes)
            let foundation = Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
                .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
            #expect(text == foundation)
            #expect(Base64URL.decode(text) == bytes)
            #expect(Base64URL.decode(text + String(repeating: "=", count: (4 - text.count % 4) % 4)) == bytes)
        }
    }

    @Test("refuses characters outside the alphabet, an impossible length and stray bits")
    func refusals() {
        #expect(Base64URL.decode("ab+c") == nil)  // standard alphabet
        #expect(Base64URL.decode("ab/c") == nil)
        #expect(Base64URL.decode("a b") == nil)
        #expect(Base64URL.decode("é") == nil)
        #expect(Base64URL.decode("abcde") == nil)  // 4n+1 characters
        #expect(Base64URL.decode("AB") == nil)  // "AB" leaves non-zero bits; "AA" is the canonical one byte
        #expect(Base64URL.decode("AA") == [0])
        #expect(Base64URL.decode("") == [])
    }
}
