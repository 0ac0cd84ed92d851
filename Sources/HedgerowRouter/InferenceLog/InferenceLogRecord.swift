import Foundation
import HedgerowCore
import NIOCore

/// One line of a sampled inference log (JSONL): what a request asked, what it was answered and how. The fields map
/// one to one onto TensorFlow Serving's `PredictionLog` (`log_metadata.model_spec` = model and version,
/// `predict_log.request` / `.response` = the bodies) and onto KServe's logger pair (two CloudEvents sharing the
/// request id as `ce-id`, `ce-type` request / response); docs/inference-logs.md has the table.
///
/// Building one on the event loop costs two buffer references and a few fields: the bodies are turned into text or
/// base64 and the line is encoded on the log's own thread (`line(with:)`), never on the request path.
struct InferenceLogRecord: Encodable {
    /// A body as sent: UTF-8 text as a string (JSON requests stay readable: `json.loads(record["request"]["text"])`),
    /// anything else base64, cut at `maxLoggedBytes`. Holds the bytes until it is encoded.
    struct Body: Encodable {
        var contentType: String?
        var bytes: Int
        /// The first `maxLoggedBytes` of the body (a slice: no copy).
        var kept: ByteBuffer

        static let maxLoggedBytes = 1 << 20

        init(_ buffer: ByteBuffer, contentType: String?) {
            self.contentType = contentType
            bytes = buffer.readableBytes
            kept = buffer.getSlice(at: buffer.readerIndex, length: min(buffer.readableBytes, Self.maxLoggedBytes)) ?? ByteBuffer()
        }

        var isTruncated: Bool { bytes > Self.maxLoggedBytes }

        enum CodingKeys: String, CodingKey { case contentType, bytes, text, base64, truncated }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encodeIfPresent(contentType, forKey: .contentType)
            try c.encode(bytes, forKey: .bytes)
            let data = Data(kept.readableBytesView)
            if let text = String(data: data, encoding: .utf8) { try c.encode(text, forKey: .text) } else {
                try c.encode(data.base64EncodedString(), forKey: .base64)
            }
            if isTruncated { try c.encode(true, forKey: .truncated) }
        }
    }

    /// When the request arrived; written ISO 8601 with milliseconds, UTC.
    var time: Date
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
    /// False when the request id was not sampled and the record is written because a mirrored canary disagreed.
    var sampled = true
    /// For a request mirrored to a canary: how the candidate's answer compared.
    var canary: Canary?

    /// A mirrored request's comparison: the candidate version, the `result` (as in
    /// `hedgerow_router_canary_comparisons_total`, or `no_answer`), per-output figures, and the candidate's answer.
    struct Canary: Encodable {
        var candidate: Int
        var result: String
        /// Why the answers could not be compared.
        var detail: String?
        var replica: String
        var status: Int?
        var latencyMs: Double
        var outputs: [PredictionComparison.OutputComparison]?
        var response: Body?
    }

    /// About the memory the record holds, for the writer's queue bound: the whole bodies (a slice keeps its whole
    /// buffer alive) and the fields around them.
    var approximateBytes: Int { request.bytes + response.bytes + (canary?.response?.bytes ?? 0) + 1024 }

    /// An encoder for `line(with:)`: sorted keys, times as ISO 8601 with milliseconds. Not for sharing between
    /// threads; the log's thread keeps one.
    static func makeEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var c = encoder.singleValueContainer()
            try c.encode(timestamp(date))
        }
        return encoder
    }

    /// `2026-11-24T22:31:05.118Z`: UTC, milliseconds.
    static func timestamp(_ date: Date) -> String {
        let millis = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        var seconds = time_t(millis >= 0 ? millis / 1000 : (millis - 999) / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                      parts.tm_hour, parts.tm_min, parts.tm_sec, Int32(((millis % 1000) + 1000) % 1000))
    }

    /// The record as one JSON line, newline included; nil if it cannot be encoded (never expected).
    func line(with encoder: JSONEncoder) -> [UInt8]? {
        guard var data = try? encoder.encode(self) else { return nil }
        data.append(UInt8(ascii: "\n"))
        return Array(data)
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
