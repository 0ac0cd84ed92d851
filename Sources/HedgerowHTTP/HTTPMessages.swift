import Foundation
import HedgerowCore
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

extension HTTPHeaders {
    /// Whether these are the headers of a gRPC call or answer (`application/grpc`, `application/grpc+proto`): the one
    /// test every layer uses to tell gRPC apart (the server's 413, content-length, the roles' dispatch, statuses).
    public var isGRPC: Bool { first(name: "content-type")?.hasPrefix("application/grpc") ?? false }
}

/// A complete request as a responder sees it: the body is collected (up to the server's limit) before
/// `respond` is called. The same type describes HTTP/1.1 and HTTP/2 requests.
public struct HTTPRequest: Sendable {
    public var method: HTTPMethod
    public var target: String
    public var headers: HTTPHeaders
    public var body: ByteBuffer

    public init(method: HTTPMethod, target: String, headers: HTTPHeaders = [:], body: ByteBuffer = ByteBuffer()) {
        self.method = method
        self.target = target
        self.headers = headers
        self.body = body
    }

    /// The path without the query string.
    public var path: Substring { target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? "" }

    /// Value of a query parameter, undecoded (Hedgerow's own parameters are plain integers and names).
    public func query(_ name: String) -> Substring? {
        guard let q = target.split(separator: "?", maxSplits: 1).dropFirst().first else { return nil }
        for pair in q.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            if kv.first == Substring(name) { return kv.count > 1 ? kv[1] : "" }
        }
        return nil
    }
}

public struct HTTPResponse: Sendable {
    public var status: HTTPResponseStatus
    public var headers: HTTPHeaders
    public var body: ByteBuffer
    /// Fields sent after the body (HTTP/2 only): gRPC's `grpc-status` and `grpc-message`. A client collects a
    /// peer's trailers here, so that a router forwards them intact.
    public var trailers: HTTPHeaders?

    public init(status: HTTPResponseStatus, headers: HTTPHeaders = [:], body: ByteBuffer = ByteBuffer(), trailers: HTTPHeaders? = nil) {
        self.status = status
        self.headers = headers
        self.body = body
        self.trailers = trailers
    }

    /// A JSON response from an `Encodable` value.
    public static func json<T: Encodable>(_ value: T, status: HTTPResponseStatus = .ok) -> HTTPResponse {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]  // "digits/1f2e…", not "digits\/1f2e…"
        do {
            return .jsonBytes(ByteBuffer(bytes: try encoder.encode(value)), status: status)
        } catch {
            return .error(HedgerowError(.internalError, "cannot encode response: \(error)"))
        }
    }

    /// A JSON response from bytes that are already JSON.
    public static func jsonBytes(_ body: ByteBuffer, status: HTTPResponseStatus = .ok) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["content-type": "application/json"], body: body)
    }

    /// The `{"error": "..."}` body every Hedgerow endpoint answers failures with; 429 and 503 carry `Retry-After`.
    public static func error(_ error: HedgerowError) -> HTTPResponse {
        var response = json(ErrorBody(error: error.message), status: HTTPResponseStatus(statusCode: error.httpStatus))
        if error.httpStatus == 429 || error.httpStatus == 503 { response.headers.add(name: "retry-after", value: "1") }
        return response
    }

    /// What a server writes for a responder's outcome: its response, or the error as JSON (500 for an error that
    /// is not a `HedgerowError`). Shared by the HTTP/1.1 handler and the HTTP/2 stream table.
    static func answer(for result: Result<HTTPResponse, any Error>) -> HTTPResponse {
        switch result {
        case .success(let response): response
        case .failure(let error): .error(error as? HedgerowError ?? HedgerowError(.internalError, "internal error: \(error)"))
        }
    }

    /// The 413 both protocols answer for a request body over the server's limit; a gRPC call gets it as the
    /// status RESOURCE_EXHAUSTED (8), since gRPC clients read no HTTP error statuses.
    static func bodyTooLarge(_ bytes: Int, limit: Int, grpc: Bool = false) -> HTTPResponse {
        let message = "request body of \(bytes) bytes is over the limit of \(limit) bytes"
        guard grpc else { return .error(HedgerowError(.payloadTooLarge, message)) }
        return HTTPResponse(status: .ok, headers: ["content-type": "application/grpc", "grpc-status": "8", "grpc-message": message])
    }

    public static func text(_ text: String, status: HTTPResponseStatus = .ok, contentType: String = "text/plain; charset=utf-8") -> HTTPResponse {
        HTTPResponse(status: status, headers: ["content-type": contentType], body: ByteBuffer(string: text))
    }
}

/// Fires once when the client goes away before the response is sent: an HTTP/2 stream reset, or the
/// connection closing. Handlers register work to stop (drop a queued inference, cancel upstream attempts).
public final class CancellationSignal: Sendable {
    private let state = NIOLockedValueBox<(fired: Bool, callbacks: [@Sendable () -> Void])>((false, []))

    public init() {}

    public var isCancelled: Bool { state.withLockedValue { $0.fired } }

    /// Runs `callback` when the signal fires, at once if it already has.
    public func onCancel(_ callback: @escaping @Sendable () -> Void) {
        let runNow = state.withLockedValue { state -> Bool in
            if state.fired { return true }
            state.callbacks.append(callback)
            return false
        }
        if runNow { callback() }
    }

    public func fire() {
        let callbacks = state.withLockedValue { state -> [@Sendable () -> Void] in
            if state.fired { return [] }
            state.fired = true
            defer { state.callbacks = [] }
            return state.callbacks
        }
        for callback in callbacks { callback() }
    }

    /// Forgets registered callbacks once the response is on its way (nothing left to cancel).
    public func complete() {
        state.withLockedValue { state in
            state.fired = true
            state.callbacks = []
        }
    }
}

/// What a responder gets besides the request.
public struct RequestContext: Sendable {
    public var eventLoop: any EventLoop
    /// Fires if the client resets the stream or closes the connection before the answer.
    public var cancellation: CancellationSignal
    public var isHTTP2: Bool
}

/// Answers requests. Called on the request's event loop; must not block it (hand heavy work to a thread pool
/// and return a future).
public protocol HTTPResponder: Sendable {
    func respond(to request: HTTPRequest, context: RequestContext) -> EventLoopFuture<HTTPResponse>
}

extension EventLoop {
    /// Runs async work as a future, for responders whose logic is naturally async (control-plane endpoints).
    public func respond(_ body: @escaping @Sendable () async -> HTTPResponse) -> EventLoopFuture<HTTPResponse> {
        let promise = makePromise(of: HTTPResponse.self)
        promise.completeWithTask { await body() }
        return promise.futureResult
    }
}
