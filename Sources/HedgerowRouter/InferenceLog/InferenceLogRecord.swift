import Foundation
import HedgerowCore
import NIOCore

/// One line of a sampled inference log (JSONL): what a request asked, what it was answered and how. The fields map
/// one to one onto TensorFlow Serving's `PredictionLog` (`log_metadata.model_spec` = model and version,
/// `predict_log.request` / `.response` = the bodies) and onto KServe's logger pair (two CloudEvents sharing the
/// request id as `ce-id`, `ce-type` request / response); docs/inference-logs.md has the table.
struct InferenceLogRecord: Encodable {
    /// A body as sent: UTF-8 text as a string (JSON requests stay readable: `json.loads(record["request"]["text"])`),
    /// anything else base64, cut at `maxLoggedBytes`.
    struct Body: Encodable {
        var contentType: String?
        var bytes: Int
        var text: String?
        var base64: String?
        var truncated: Bool?

        static let maxLoggedBytes = 1 << 20

        init(_ buffer: ByteBuffer, contentType: String?) {
            self.contentType = contentType
            bytes = buffer.readableBytes
            let kept = buffer.getSlice(at: buffer.readerIndex, length: min(buffer.readableBytes, Self.maxLoggedBytes)) ?? ByteBuffer()
            if bytes > Self.maxLoggedBytes { truncated = true }
            let data = Data(kept.readableBytesView)
            if let string = String(data: data, encoding: .utf8) { text = string } else { base64 = data.base64EncodedString() }
        }
    }

    /// ISO 8601 with milliseconds, UTC: when the request arrived.
    var time: String
    var requestId: String
    var model: String
    var version: Int
    /// `tfs` (TensorFlow Serving REST) or `v2` (KServe v2).
    var api: String
    var status: Int
    var latencyMs: Double
    /// Whether a backup (hedge or retry) was sent.
    var hedged: Bool
    /// The replica whose answer the client got; absent when no replica answered.
    var replica: String?
    var request: Body
    var response: Body

    /// The record as one JSON line, newline included; nil if it cannot be encoded (never expected).
    func line() -> [UInt8]? {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard var data = try? encoder.encode(self) else { return nil }
        data.append(UInt8(ascii: "\n"))
        return Array(data)
    }

    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }
}

/// Which requests are written: a hash of the request id, so that every router (and a retry of the same request)
/// makes the same choice, and a client that sends ids can tell which of its requests are logged.
enum InferenceLogSampler {
    /// The id's bucket (salted apart from the canary split's) against the share.
    static func isSampled(requestId: String, percent: Double) -> Bool {
        RequestIdBucket.isWithin(percent, requestId: requestId, salt: "log")
    }
}
