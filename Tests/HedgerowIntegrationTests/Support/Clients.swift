import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import HedgerowHTTP
import NIOCore
import NIOHTTP1
import NIOPosix

/// Answers as tests look at them: status and parsed JSON.
struct Answer {
    var status: Int
    var body: Data
    /// Response headers (the HTTP/2 client only).
    var headers: HTTPHeaders = [:]
    var json: [String: Any]? { try? JSONSerialization.jsonObject(with: body) as? [String: Any] }
    var text: String { String(decoding: body, as: UTF8.self) }
}

/// HTTP/2 with prior knowledge, through Hedgerow's own pooled client.
final class H2Client: Sendable {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let pool: HTTP2ClientPool
    let address: String

    init(address: String) {
        self.address = address
        pool = HTTP2ClientPool(group: group)
    }

    func send(_ method: HTTPMethod, _ path: String, body: Data = Data(), headers: HTTPHeaders = [:]) async throws -> Answer {
        let request = HTTPRequest(method: method, target: path, headers: headers, body: ByteBuffer(bytes: body))
        let response = try await pool.execute(request, to: address, timeout: .seconds(30)).response.get()
        return Answer(status: Int(response.status.code), body: Data(response.body.readableBytesView), headers: response.headers)
    }

    func close() async {
        pool.shutdown()
        try? await group.shutdownGracefully()
    }
}

/// HTTP/1.1 through URLSession (libcurl speaks HTTP/1.1 to http:// URLs).
struct H1Client {
    let base: String
    let session = URLSession(configuration: .ephemeral)

    func send(_ method: String, _ path: String, body: Data? = nil) async throws -> Answer {
        var request = URLRequest(url: URL(string: base + path)!)
        request.httpMethod = method
        request.httpBody = body
        request.timeoutInterval = 30
        let (data, response) = try await session.data(for: request)
        return Answer(status: (response as! HTTPURLResponse).statusCode, body: data)
    }
}
