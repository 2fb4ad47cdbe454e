import Foundation

/// One WebSocket message as Engine.IO uses it: a text frame (`<type>[<data>]`) or a binary frame (raw bytes).
public enum EngineIOFrame: Sendable, Hashable {
    /// A text frame.
    case text(String)
    /// A binary frame: an Engine.IO binary message, bytes as is.
    case binary(Data)

    /// The frame's size in bytes (UTF-8 for text).
    public var byteCount: Int {
        switch self {
        case .text(let s): return s.utf8.count
        case .binary(let d): return d.count
        }
    }
}
