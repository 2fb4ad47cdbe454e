import Foundation
import Synchronization

extension UUID {
    /// A random (version 4) UUID.
    ///
    /// Foundation's `UUID()` opens, reads and closes `/dev/urandom` on every call on Linux, about a tenth of the
    /// cost of encoding an envelope (`biometricsctl bench codec`); this draws from a buffer of system randomness
    /// (`/dev/urandom`, kept open) refilled 256 UUIDs at a time.
    public static func random() -> UUID {
        var uuid = RandomBytes.shared.uuidBytes()
        uuid.6 = (uuid.6 & 0x0F) | 0x40  // version 4
        uuid.8 = (uuid.8 & 0x3F) | 0x80  // RFC 4122 variant
        return UUID(uuid: uuid)
    }
}

/// System randomness, read in blocks.
private final class RandomBytes: Sendable {
    static let shared = RandomBytes()
    private static let blockSize = 4096
    private let state = Mutex<(block: [UInt8], next: Int)>(([], 0))

    func uuidBytes() -> uuid_t {
        state.withLock { state in
            if state.next + 16 > state.block.count {
                state.block = Self.fill(Self.blockSize)
                state.next = 0
            }
            defer { state.next += 16 }
            let b = state.block
            let i = state.next
            return (b[i], b[i + 1], b[i + 2], b[i + 3], b[i + 4], b[i + 5], b[i + 6], b[i + 7], b[i + 8], b[i + 9],
                    b[i + 10], b[i + 11], b[i + 12], b[i + 13], b[i + 14], b[i + 15])
        }
    }

    /// `/dev/urandom`, opened once (-1 when it cannot be).
    private static let urandom: Int32 = open("/dev/urandom", O_RDONLY | O_CLOEXEC)

    private static func fill(_ count: Int) -> [UInt8] {
        var block = [UInt8](repeating: 0, count: count)
        var filled = 0
        if urandom >= 0 {
            block.withUnsafeMutableBytes { buffer in
                while filled < count {
                    let got = read(urandom, buffer.baseAddress! + filled, count - filled)
                    if got > 0 {
                        filled += got
                    } else if got < 0, errno == EINTR {
                        continue
                    } else {
                        break
                    }
                }
            }
        }
        if filled < count {  // no /dev/urandom: the standard library's generator (one call per 8 bytes)
            var generator = SystemRandomNumberGenerator()
            for index in filled..<count { block[index] = UInt8.random(in: .min ... .max, using: &generator) }
        }
        return block
    }
}
