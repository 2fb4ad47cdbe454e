import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Small blocking probes on 127.0.0.1: pick a free port, see whether a Redis or HTTP server answers. The dev stack
/// and the test harness use them.
///
/// Each call takes at most about `timeout` (a refused connection returns at once), so they are short enough to run
/// from async code while polling.
public enum Loopback {
    /// Why a probe could not even start (no socket, no bind).
    public struct Failure: Error, CustomStringConvertible {
        /// What failed.
        public let description: String
    }

    /// A port that is free right now, for a server the caller starts next (often another process). Someone may take
    /// it before the caller binds it, so callers retry on failure.
    ///
    /// Drawn below the kernel's ephemeral range (`ip_local_port_range`), where neither `bind(…:0)` (an embedded
    /// broker's listener) nor the source port of an outgoing connection lands — drawn from inside it, a port handed to
    /// a gateway was taken by one of the hundreds of connections a test run opens in between ("Address already in
    /// use"). Ports handed out by this process are not handed out again. Falls back to a kernel-chosen port.
    public static func freePort() throws -> Int {
        let ephemeralStart = ephemeralRange().lowerBound
        let candidates = 10_000..<max(10_001, ephemeralStart)
        for _ in 0..<64 {
            let port = Int.random(in: candidates)
            guard handedOut.withLock({ $0.insert(port).inserted }) else { continue }
            if (try? bound(port: port)) != nil { return port }
        }
        return try bound(port: 0)
    }

    private static let handedOut = Mutex<Set<Int>>([])

    /// The kernel's range for ephemeral ports (Linux default 32768–60999).
    static func ephemeralRange() -> ClosedRange<Int> {
        guard let text = try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8) else {
            return 32768...60999
        }
        let bounds = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).compactMap { Int($0) }
        guard bounds.count == 2, bounds[0] <= bounds[1] else { return 32768...60999 }
        return bounds[0]...bounds[1]
    }

    /// Binds 127.0.0.1:`port` (0: the kernel picks), closes, and returns the port bound.
    private static func bound(port: Int) throws -> Int {
        let fd = try tcpSocket()
        defer { close(fd) }
        var address = address(port: port)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else {
            throw Failure(description: "bind(127.0.0.1:\(port)) failed: \(String(cString: strerror(errno)))")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { throw Failure(description: "getsockname failed: \(String(cString: strerror(errno)))") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Whether a Redis server on `port` answers `PING` with `+PONG` (or `-NOAUTH`, which also means it serves).
    public static func redisAnswersPing(port: Int, timeout: Duration = .seconds(1)) -> Bool {
        guard let reply = exchange(port: port, request: "PING\r\n", timeout: timeout) else { return false }
        return reply.hasPrefix("+PONG") || reply.hasPrefix("-NOAUTH")
    }

    /// The status code of `GET path` over HTTP/1.1 on 127.0.0.1:`port`, or `nil` when nothing answers in time.
    public static func httpStatus(port: Int, path: String, timeout: Duration = .seconds(1)) -> Int? {
        let request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUser-Agent: biometricsctl-dev\r\n"
            + "Accept: */*\r\nConnection: close\r\n\r\n"
        guard let reply = exchange(port: port, request: request, timeout: timeout),
              let statusLine = reply.split(separator: "\r\n", maxSplits: 1).first
        else { return nil }
        // `HTTP/1.1 200 OK`
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/") else { return nil }
        return Int(parts[1])
    }

    /// Connects, sends `request`, reads the first reply bytes (up to the first line end or 1 KiB).
    private static func exchange(port: Int, request: String, timeout: Duration) -> String? {
        guard let fd = try? tcpSocket() else { return nil }
        defer { close(fd) }
        let seconds = timeout.components.seconds
        let microseconds = timeout.components.attoseconds / 1_000_000_000_000
        var limit = timeval(tv_sec: .init(seconds), tv_usec: .init(microseconds))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        var address = address(port: port)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return nil }
        let bytes = Array(request.utf8)
        guard send(fd, bytes, bytes.count, noSignal) == bytes.count else { return nil }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 512)
        while received.count < 1024 {
            let count = recv(fd, &buffer, buffer.count, 0)
            guard count > 0 else { break }
            received += buffer[0..<count]
            if received.contains(UInt8(ascii: "\n")) { break }
        }
        return received.isEmpty ? nil : String(decoding: received, as: UTF8.self)
    }

    /// A close-on-exec TCP socket that never raises SIGPIPE.
    private static func tcpSocket() throws -> Int32 {
        #if os(Linux)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw Failure(description: "socket() failed: \(String(cString: strerror(errno)))") }
        #if canImport(Darwin)
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, socklen_t(MemoryLayout<Int32>.size))
        #endif
        return fd
    }

    #if os(Linux)
    private static let noSignal = Int32(MSG_NOSIGNAL)
    #else
    private static let noSignal: Int32 = 0
    #endif

    private static func address(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }
}
