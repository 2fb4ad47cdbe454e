import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A blocking TCP connection to 127.0.0.1, for tests that play a raw or misbehaving peer.
public final class LoopbackSocket: @unchecked Sendable {
    // @unchecked Sendable: used from one task at a time; the descriptor is closed once, in deinit.
    private let fd: Int32

    /// Connects; `receiveBuffer` shrinks SO_RCVBUF (a slow reader), reads time out after `timeout` seconds.
    public init(port: Int, receiveBuffer: Int32? = nil, timeout: Int = 30) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw FixtureError("socket failed") }
        if var size = receiveBuffer {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var interval = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &interval, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            close(fd)
            throw FixtureError("connect to 127.0.0.1:\(port) failed")
        }
    }

    deinit { close(fd) }

    /// Writes all bytes; a connection the peer closed throws (never SIGPIPE).
    public func write(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { throw FixtureError("write failed (errno \(errno))") }
            offset += sent
        }
    }

    /// Closes the connection both ways now (the descriptor itself is released in deinit).
    public func shutdown() {
        _ = Glibc.shutdown(fd, Int32(SHUT_RDWR))
    }

    /// Whether the peer has closed (or reset) the connection; does not wait and consumes nothing.
    public var peerClosed: Bool {
        var byte: UInt8 = 0
        let count = recv(fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
        if count == 0 { return true }
        return count < 0 && errno != EAGAIN && errno != EWOULDBLOCK
    }

    /// The next bytes, or nil when the peer closed the connection; throws ``ReadTimedOut`` when nothing came in time.
    public func read() throws -> [UInt8]? {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = recv(fd, &chunk, chunk.count, 0)
        if count > 0 { return Array(chunk[0..<count]) }
        if count == 0 || errno == ECONNRESET { return nil }
        throw ReadTimedOut()
    }

    /// No byte arrived within the read timeout (the peer kept the connection open).
    public struct ReadTimedOut: Error {}
}
