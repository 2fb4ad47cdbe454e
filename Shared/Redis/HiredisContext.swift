import CHiredis
import Foundation

/// Owns one `redisContext*` (one blocking TCP connection): created in `init`, freed in `deinit`.
///
/// Not `Sendable` on purpose: it is created, used and released on its connection's I/O thread only.
final class HiredisContext {
    private let context: UnsafeMutablePointer<redisContext>

    /// Connects (blocking, bounded by `connectTimeout`) and applies `commandTimeout` to socket reads and writes.
    init(host: String, port: Int, connectTimeout: Duration, commandTimeout: Duration) throws(RedisError) {
        guard let context = redisConnectWithTimeout(host, Int32(port), connectTimeout.cTimeval) else {
            throw RedisError(code: .connectionFailed, message: "cannot allocate a hiredis context")
        }
        if context.pointee.err != 0 {
            let reason = Self.errorText(context)
            redisFree(context)
            throw RedisError(code: .connectionFailed, message: "cannot connect to \(host):\(port): \(reason)")
        }
        if redisSetTimeout(context, commandTimeout.cTimeval) != REDIS_OK {
            let reason = Self.errorText(context)
            redisFree(context)
            throw RedisError(code: .connectionFailed, message: "cannot set socket timeout: \(reason)")
        }
        _ = redisEnableKeepAlive(context)
        // Child processes spawned by the service must not inherit (and keep open) the Redis socket.
        let descriptor = context.pointee.fd
        _ = fcntl(descriptor, F_SETFD, fcntl(descriptor, F_GETFD) | FD_CLOEXEC)
        self.context = context
    }

    deinit {
        redisFree(context)
    }

    /// True when the socket is readable or hung up while no reply is outstanding: the server closed it (restart,
    /// idle timeout, `CLIENT KILL`). RESP2 servers send nothing unsolicited outside pub/sub, so it is dead.
    var isClosedByPeer: Bool {
        var descriptor = pollfd(fd: context.pointee.fd, events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, 0) != 0
    }

    /// Appends one command to the output buffer (nothing is written to the socket yet).
    func append(_ arguments: [[UInt8]]) throws(RedisError) {
        // One contiguous buffer holds every argument; argv points into it. The trailing 0 keeps it non-empty.
        var storage: [UInt8] = []
        storage.reserveCapacity(arguments.reduce(1) { $0 + $1.count })
        var offsets: [Int] = []
        var lengths: [Int] = []
        offsets.reserveCapacity(arguments.count)
        lengths.reserveCapacity(arguments.count)
        for argument in arguments {
            offsets.append(storage.count)
            lengths.append(argument.count)
            storage.append(contentsOf: argument)
        }
        storage.append(0)
        let status = storage.withUnsafeBufferPointer { bytes in
            let base = UnsafeRawPointer(bytes.baseAddress!).assumingMemoryBound(to: CChar.self)
            var argv: [UnsafePointer<CChar>?] = offsets.map { base + $0 }
            return argv.withUnsafeMutableBufferPointer { argvBuffer in
                lengths.withUnsafeBufferPointer { lengthBuffer in
                    redisAppendCommandArgv(
                        context, Int32(arguments.count), argvBuffer.baseAddress, lengthBuffer.baseAddress)
                }
            }
        }
        if status != REDIS_OK { throw currentError() }
    }

    /// Flushes pending output if needed and blocks (up to the command timeout) for the next reply.
    func readReply() throws(RedisError) -> RedisValue {
        var raw: UnsafeMutableRawPointer?
        guard redisGetReply(context, &raw) == REDIS_OK, let raw else {
            throw currentError()
        }
        defer { freeReplyObject(raw) }
        return Self.value(of: raw.assumingMemoryBound(to: redisReply.self))
    }

    /// Maps the context's error state (`ctx->err`, `errno`) to a retriable `RedisError`.
    private func currentError() -> RedisError {
        let savedErrno = errno
        let reason = Self.errorText(context)
        switch context.pointee.err {
        case REDIS_ERR_IO where savedErrno == EAGAIN || savedErrno == EWOULDBLOCK:
            return RedisError(code: .timeout, message: "no reply within the command timeout")
        case REDIS_ERR_PROTOCOL:
            return RedisError(code: .protocolError, message: "protocol error: \(reason)")
        case REDIS_ERR_EOF:
            return RedisError(code: .connectionLost, message: "server closed the connection")
        default:
            return RedisError(code: .connectionLost, message: "connection error: \(reason)")
        }
    }

    private static func errorText(_ context: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: context.pointee.errstr) { raw in
            let bytes = raw.prefix { $0 != 0 }
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    private static func value(of reply: UnsafeMutablePointer<redisReply>) -> RedisValue {
        let reply = reply.pointee
        switch reply.type {
        case REDIS_REPLY_STRING:
            return .bulk(bytes(reply))
        case REDIS_REPLY_STATUS:
            return .status(String(decoding: bytes(reply), as: UTF8.self))
        case REDIS_REPLY_ERROR:
            return .error(String(decoding: bytes(reply), as: UTF8.self))
        case REDIS_REPLY_INTEGER:
            return .integer(Int64(reply.integer))
        case REDIS_REPLY_ARRAY:
            guard let elements = reply.element else { return .array([]) }
            return .array((0..<reply.elements).map { index in
                elements[index].map(value(of:)) ?? .null
            })
        default:  // REDIS_REPLY_NIL
            return .null
        }
    }

    private static func bytes(_ reply: redisReply) -> [UInt8] {
        guard let str = reply.str, reply.len > 0 else { return [] }
        return Array(UnsafeRawBufferPointer(start: str, count: reply.len))
    }
}

extension Duration {
    /// This duration as a C `timeval` (microsecond precision).
    fileprivate var cTimeval: timeval {
        let (seconds, attoseconds) = components
        return timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
    }
}
