import Foundation
import HedgerowCore
import HedgerowHTTP
import NIOCore
import NIOHTTP1
import SwiftProtobuf

/// gRPC status codes (the subset Hedgerow answers or reads) and their correspondence with the HTTP statuses the
/// rest of Hedgerow speaks.
///
/// One table in each direction, so that the router and the workers agree: a worker's gRPC answer is judged by the
/// router's hedging exactly as its HTTP answer would be (UNAVAILABLE is a 503 to retry elsewhere, NOT_FOUND for a
/// pinned version a stale route), and any error a Hedgerow component raises as HTTP reaches a gRPC client with the
/// code that means the same.
public enum GRPCStatusCode: Int, Sendable, CaseIterable {
    case ok = 0
    case cancelled = 1
    case unknown = 2
    case invalidArgument = 3
    case deadlineExceeded = 4
    case notFound = 5
    case permissionDenied = 7
    case resourceExhausted = 8
    case failedPrecondition = 9
    case unimplemented = 12
    case internalError = 13
    case unavailable = 14
    case unauthenticated = 16

    /// The code for an HTTP status a Hedgerow component answered with.
    public init(httpStatus: Int) {
        switch httpStatus {
        case 200..<300: self = .ok
        case 400: self = .invalidArgument
        case 401: self = .unauthenticated
        case 403: self = .permissionDenied
        case 404: self = .notFound
        case 405: self = .unimplemented
        case 409, 422: self = .failedPrecondition
        case 413, 429: self = .resourceExhausted
        case 503: self = .unavailable
        case 504: self = .deadlineExceeded
        case 500..<600: self = .internalError
        default: self = .unknown
        }
    }

    /// The HTTP status the router's hedging and metrics treat this code as.
    public var httpStatus: Int {
        switch self {
        case .ok: 200
        case .invalidArgument: 400
        case .unauthenticated: 401
        case .permissionDenied: 403
        case .notFound: 404
        case .unimplemented: 405
        case .failedPrecondition: 409
        case .resourceExhausted: 429
        case .unavailable, .cancelled: 503
        case .deadlineExceeded: 504
        case .unknown, .internalError: 500
        }
    }
}

extension HTTPResponse {
    /// A successful gRPC answer of a SwiftProtobuf message, serialized straight after its prefix (one copy).
    public static func grpc(_ message: some SwiftProtobuf.Message) -> HTTPResponse {
        guard let bytes: [UInt8] = try? message.serializedBytes() else {
            return grpcError(.internalError, "the answer could not be encoded as \(type(of: message).protoMessageName)")
        }
        var body = ByteBuffer()
        guard GRPCFrame.write(bytes, to: &body) else {
            return grpcError(.resourceExhausted, "answer of \(bytes.count) bytes is over gRPC's 4 GiB message limit")
        }
        return HTTPResponse(status: .ok, headers: ["content-type": "application/grpc"], body: body, trailers: ["grpc-status": "0"])
    }

    /// A failed gRPC call: a "trailers-only" answer (HTTP 200, the status in the one header block).
    public static func grpcError(_ code: GRPCStatusCode, _ message: String) -> HTTPResponse {
        var headers: HTTPHeaders = ["content-type": "application/grpc", "grpc-status": String(code.rawValue)]
        if !message.isEmpty { headers.add(name: "grpc-message", value: GRPCStatusMessage.encode(message)) }
        return HTTPResponse(status: .ok, headers: headers)
    }

    public static func grpcError(_ error: HedgerowError) -> HTTPResponse {
        grpcError(GRPCStatusCode(httpStatus: error.httpStatus), error.message)
    }

    /// The gRPC status of a gRPC answer (from its trailers, or its headers for a trailers-only answer); nil when
    /// this is not a gRPC answer or it carries no valid status.
    public var grpcStatus: GRPCStatusCode? {
        guard headers.isGRPC else { return nil }
        guard let text = trailers?.first(name: "grpc-status") ?? headers.first(name: "grpc-status"), let number = Int(text) else { return nil }
        return GRPCStatusCode(rawValue: number) ?? .unknown
    }

    /// A gRPC answer's `grpc-message` (trailers, or headers for a trailers-only answer), still percent-encoded.
    public var grpcMessage: String? {
        trailers?.first(name: "grpc-message") ?? headers.first(name: "grpc-message")
    }

    /// The HTTP status this answer counts as: its own, or for a gRPC answer the one its gRPC status means (a gRPC
    /// answer without a status is a broken one: 500). What hedging, ejection and metrics judge an answer by.
    public var outcomeStatus: Int {
        guard headers.isGRPC, status == .ok else { return Int(status.code) }
        return (grpcStatus ?? .internalError).httpStatus
    }

    /// This answer as a gRPC client must see it: a gRPC answer as it is, any other (a Hedgerow JSON error, a 404
    /// for an unknown path) as a trailers-only error with the matching code and the `error` text as the message.
    public func asGRPC() -> HTTPResponse {
        if headers.isGRPC { return self }
        let code = GRPCStatusCode(httpStatus: Int(status.code))
        let message = (try? JSONDecoder().decode(ErrorText.self, from: Data(body.readableBytesView)))?.error
            ?? String(buffer: body).prefix(1024).description
        return .grpcError(code == .ok ? .internalError : code, code == .ok ? "a non-gRPC answer to a gRPC call" : message)
    }
}

private struct ErrorText: Decodable {
    var error: String
}

/// `grpc-message` is percent-encoded UTF-8 (the gRPC HTTP/2 spec): every byte outside printable ASCII, and `%`.
public enum GRPCStatusMessage {
    public static func encode(_ message: String) -> String {
        var out = ""
        for byte in message.utf8.prefix(4096) {
            if byte >= 0x20 && byte <= 0x7E && byte != UInt8(ascii: "%") {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }
}

private extension String {
    func leftPadded(to width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}
