import Foundation

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// An HTTP answer from a service's ops endpoint (or any server on 127.0.0.1).
public struct HTTPAnswer: Sendable {
    /// The status code.
    public var status: Int
    /// The `Content-Type` header, if any.
    public var contentType: String?
    /// The body as UTF-8 text.
    public var body: String

    /// The body parsed as a JSON object, if it is one.
    public var json: [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any]
    }
}

/// `GET http://127.0.0.1:<port><path>` without caches or proxies (15 s timeout).
public func httpGet(port: Int, path: String) async throws -> HTTPAnswer {
    let configuration = URLSessionConfiguration.ephemeral
    configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
    configuration.connectionProxyDictionary = [:]
    let session = URLSession(configuration: configuration)
    defer { session.finishTasksAndInvalidate() }
    var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
    request.timeoutInterval = 15
    let (data, response) = try await session.data(for: request)
    let http = response as? HTTPURLResponse
    return HTTPAnswer(status: http?.statusCode ?? 0, contentType: http?.value(forHTTPHeaderField: "Content-Type"),
                      body: String(decoding: data, as: UTF8.self))
}
