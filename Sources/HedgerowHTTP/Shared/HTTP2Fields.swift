import NIOHPACK
import NIOHTTP1
import NIOHTTP2

/// What the client's and the server's HTTP/2 stream tables share: header fields between the `HTTPHeaders` that
/// Hedgerow's requests and responses carry and the HPACK header blocks of HTTP/2, and the receive windows that
/// swift-nio-http2's multiplexer used to keep open.
enum HTTP2Fields {
    /// Appends `fields` to an HTTP/2 header block: names in lower case, and none of the HTTP/1.1
    /// connection-specific fields (RFC 9113 §8.2.2), which HTTP/2 peers must refuse. `host` and `content-length`
    /// are left out too: the caller writes `:authority` and the length of the body it actually sends.
    static func append(_ fields: HTTPHeaders, to block: inout HPACKHeaders) {
        for (name, value) in fields {
            let lower = name.utf8.contains(where: { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) ? name.lowercased() : name
            switch lower {
            case "host", "content-length", "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
                continue
            case "te" where value.lowercased() != "trailers":
                continue
            default:
                block.add(name: lower, value: value)
            }
        }
    }

    /// The regular fields of a received header block (pseudo-headers left out).
    static func regularFields(of block: HPACKHeaders, into fields: inout HTTPHeaders) {
        for (name, value, _) in block where !name.hasPrefix(":") { fields.add(name: name, value: value) }
    }

    /// Receive window kept open per stream and for the connection (HTTP/2's initial window).
    static let receiveWindow = 65_535

    /// The WINDOW_UPDATE to send for a window change swift-nio-http2 reported, if any: once half a receive window
    /// is used it is opened again, since both tables read what arrives at once (bodies are bounded by their own
    /// limits, not by flow control).
    static func windowUpdate(for event: NIOHTTP2WindowUpdatedEvent) -> HTTP2Frame? {
        guard let size = event.inboundWindowSize, size <= receiveWindow / 2 else { return nil }
        return HTTP2Frame(streamID: event.streamID, payload: .windowUpdate(windowSizeIncrement: receiveWindow - size))
    }
}
