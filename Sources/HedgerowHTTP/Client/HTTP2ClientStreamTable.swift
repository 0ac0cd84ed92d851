import NIOCore
import NIOHPACK
import NIOHTTP1
import NIOHTTP2

/// The streams of one upstream HTTP/2 connection, kept as entries of a table on the connection's own pipeline
/// instead of one child channel each.
///
/// A router opens a stream for every attempt. swift-nio-http2's multiplexer gives each stream a channel, a
/// pipeline and an HTTP/1 ↔ HTTP/2 codec pair: in the router's profile that plumbing cost more than everything the
/// router decides. Here a request becomes a HEADERS frame (and a DATA frame for its body) written straight to
/// `NIOHTTP2Handler`, which still owns the protocol: the connection state machine, HPACK, flow control of what we
/// send, the peer's concurrent-stream limit, and the DoS limits. This table adds what the multiplexer added for
/// a client: stream ids, collecting each answer, returning receive window as answers are read, and telling each
/// call why it failed.
///
/// Every method runs on the connection's event loop. Calls that arrive while the connection is still being set
/// up wait in `pending` (bounded by the callers' own timeouts); a connection that failed or closed fails them.
final class HTTP2ClientStreamTable: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    /// Largest response body collected for one call; a larger one is reset and the call fails. Bounds what one
    /// misbehaving peer can make the router hold per stream.
    static let maxResponseBytes = 64 * 1024 * 1024
    /// The last client stream id HTTP/2 allows is 2^31 − 1 (about 18 hours of a busy router's connection). A
    /// connection that reaches it stops taking calls (the pool opens a fresh one) and closes once its last stream
    /// ends.
    static let lastAllowedStreamID: Int32 = Int32.max

    private struct Stream {
        var call: CallState
        var status: HTTPResponseStatus?
        var headers = HTTPHeaders()
        var body: ByteBuffer?
        var trailers: HTTPHeaders?
    }

    private enum Phase {
        case connecting([(HTTPRequest, CallState)])
        case open(ChannelHandlerContext)
        /// With the error a call that arrives now fails with (it was not sent).
        case closed(HTTP2ClientError)
    }

    let address: String
    private var phase = Phase.connecting([])
    private var streams: [Int32: Stream] = [:]
    /// Wider than a stream id, so that the step past the last one cannot overflow.
    private var nextStreamID: Int64 = 1
    /// Told once when the connection should take no new calls (GOAWAY, stream ids running out, closed).
    private var onRetire: (() -> Void)?
    private let lastStreamID: Int32

    init(address: String, lastStreamID: Int32 = HTTP2ClientStreamTable.lastAllowedStreamID, onRetire: @escaping () -> Void) {
        self.address = address
        self.lastStreamID = lastStreamID
        self.onRetire = onRetire
    }

    // MARK: calls

    /// Sends `request` as a new stream, or queues it until the connection is up.
    func send(_ request: HTTPRequest, call: CallState) {
        switch phase {
        case .connecting(var queued):
            phase = .connecting([])  // keep `queued` uniquely referenced while it grows
            queued.append((request, call))
            phase = .connecting(queued)
        case .closed(let error):
            call.fail(error)
        case .open(let context):
            open(request, call: call, context: context)
        }
    }

    private func open(_ request: HTTPRequest, call: CallState, context: ChannelHandlerContext) {
        guard !call.isFinished else { return }
        guard nextStreamID <= Int64(lastStreamID) else {
            call.fail(.streamRefused(address: address, reason: "the connection has used all its stream ids"))
            return
        }
        let id = Int32(nextStreamID)
        nextStreamID += 2
        if nextStreamID > Int64(lastStreamID) { retire() }
        let streamID = HTTP2StreamID(id)
        streams[id] = Stream(call: call)
        call.attach(table: self, stream: id)
        let hasBody = request.body.readableBytes > 0
        let headers = HTTP2ClientStreamTable.requestHeaders(request, authority: address)
        context.write(wrapOutboundOut(HTTP2Frame(streamID: streamID, payload: .headers(.init(headers: headers, endStream: !hasBody)))), promise: nil)
        if hasBody {
            context.write(wrapOutboundOut(HTTP2Frame(streamID: streamID, payload: .data(.init(data: .byteBuffer(request.body), endStream: true)))), promise: nil)
        }
        context.flush()
    }

    /// Resets a stream whose call ended without its answer (cancelled, timed out): RST_STREAM CANCEL, so that the
    /// peer can drop the work. Answers already on their way for it are dropped by NIOHTTP2Handler.
    func reset(stream id: Int32) {
        guard streams.removeValue(forKey: id) != nil, case .open(let context) = phase else { return }
        context.writeAndFlush(wrapOutboundOut(HTTP2Frame(streamID: HTTP2StreamID(id), payload: .rstStream(.cancel))), promise: nil)
        closeIfRetiredAndIdle(context)
    }

    /// HTTP/2 request headers: pseudo-headers first, then the request's fields (see `HTTP2Fields.append`).
    static func requestHeaders(_ request: HTTPRequest, authority: String) -> HPACKHeaders {
        var headers = HPACKHeaders()
        headers.reserveCapacity(request.headers.count + 5)
        headers.add(name: ":method", value: request.method.rawValue)
        headers.add(name: ":path", value: request.target)
        headers.add(name: ":scheme", value: "http")
        headers.add(name: ":authority", value: request.headers.first(name: "host") ?? authority)
        HTTP2Fields.append(request.headers, to: &headers)
        headers.add(name: "content-length", value: String(request.body.readableBytes))
        return headers
    }

    // MARK: the connection's life

    func handlerAdded(context: ChannelHandlerContext) {
        guard case .connecting(let queued) = phase else { return }
        phase = .open(context)
        for (request, call) in queued { open(request, call: call, context: context) }
    }

    /// The connect failed or the pipeline could not be set up: every queued call fails with `error`.
    func connectFailed(_ error: HTTP2ClientError) {
        guard case .connecting(let queued) = phase else { return }
        phase = .closed(error)
        retire()
        for (_, call) in queued { call.fail(error) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        // A call that reaches a closed connection was never sent: "not processed", free to retry elsewhere.
        phase = .closed(.streamRefused(address: address, reason: "the connection closed before the request was sent"))
        retire()
        let open = streams
        streams = [:]
        for stream in open.values { stream.call.fail(.connectionLost(address: address)) }
        context.fireChannelInactive()
    }

    private func retire() {
        let notify = onRetire
        onRetire = nil
        notify?()
    }

    private func closeIfRetiredAndIdle(_ context: ChannelHandlerContext) {
        if onRetire == nil && streams.isEmpty { context.close(promise: nil) }
    }

    // MARK: frames and events from NIOHTTP2Handler

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        let id = Int32(frame.streamID)
        switch frame.payload {
        case .headers(let payload):
            receiveHeaders(payload.headers, endStream: payload.endStream, stream: id, context: context)
        case .data(let payload):
            guard case .byteBuffer(var chunk) = payload.data, var stream = streams[id] else { return }
            let size = (stream.body?.readableBytes ?? 0) + chunk.readableBytes
            guard size <= Self.maxResponseBytes else {
                stream.call.fail(.streamReset(address: address, reason: "response body over \(Self.maxResponseBytes) bytes"))
                return
            }
            if stream.body == nil { stream.body = chunk } else { stream.body!.writeBuffer(&chunk) }
            if payload.endStream {
                finish(stream, id: id, context: context)
            } else {
                streams[id] = stream
            }
        case .goAway(let lastStreamID, _, _):
            retire()
            // Streams above the last one the peer will process were not processed (RFC 9113 §6.8): safe to retry.
            let last = Int32(lastStreamID)
            for (open, stream) in streams where open > last {
                streams[open] = nil
                stream.call.fail(.streamRefused(address: address, reason: "the peer is going away (GOAWAY)"))
            }
            closeIfRetiredAndIdle(context)
        default:
            break  // SETTINGS, PING, WINDOW_UPDATE, RST_STREAM: NIOHTTP2Handler acts on them; closes arrive as events
        }
    }

    private func receiveHeaders(_ headers: HPACKHeaders, endStream: Bool, stream id: Int32, context: ChannelHandlerContext) {
        guard var stream = streams[id] else { return }
        if stream.status == nil {
            guard let code = headers.first(name: ":status").flatMap({ Int($0) }), (100...999).contains(code) else {
                stream.call.fail(.streamReset(address: address, reason: "response without a valid :status"))
                return
            }
            if (100..<200).contains(code) { return }  // informational: the final answer follows
            stream.status = HTTPResponseStatus(statusCode: code)
            HTTP2Fields.regularFields(of: headers, into: &stream.headers)
        } else {
            // A second header block is the trailers (gRPC's status): kept for the caller, and it ends the stream.
            var trailers = HTTPHeaders()
            HTTP2Fields.regularFields(of: headers, into: &trailers)
            stream.trailers = trailers
        }
        if endStream {
            finish(stream, id: id, context: context)
        } else {
            streams[id] = stream
        }
    }

    private func finish(_ stream: Stream, id: Int32, context: ChannelHandlerContext) {
        streams[id] = nil
        // Do not reset a finished stream: NIOHTTP2Handler closes it once both sides ended. A reset here would count
        // as a protocol "glitch" at the peer.
        if let status = stream.status {
            stream.call.succeed(HTTPResponse(status: status, headers: stream.headers, body: stream.body ?? ByteBuffer(), trailers: stream.trailers))
        } else {
            stream.call.fail(.streamReset(address: address, reason: "the stream ended without a response"))
        }
        closeIfRetiredAndIdle(context)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case let closed as StreamClosedEvent:
            let id = Int32(closed.streamID)
            guard let stream = streams.removeValue(forKey: id) else { return }
            if closed.reason == .refusedStream {
                stream.call.fail(.streamRefused(address: address, reason: "the peer refused the stream (REFUSED_STREAM)"))
            } else {
                stream.call.fail(.streamReset(address: address, reason: "stream closed (\(closed.reason.map { "\($0)" } ?? "no error"))"))
            }
            closeIfRetiredAndIdle(context)
        case let window as NIOHTTP2WindowUpdatedEvent:
            guard window.streamID == .rootStream || streams[Int32(window.streamID)] != nil,
                  let update = HTTP2Fields.windowUpdate(for: window) else { return }
            context.writeAndFlush(wrapOutboundOut(update), promise: nil)
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Stream errors (a malformed answer on one stream) end that stream: NIOHTTP2Handler already sent
        // RST_STREAM. Connection errors close the connection; channelInactive then fails what is open.
        if let streamError = error as? NIOHTTP2Errors.StreamError,
           let stream = streams.removeValue(forKey: Int32(streamError.streamID)) {
            stream.call.fail(.streamReset(address: address, reason: "\(streamError.baseError)"))
            closeIfRetiredAndIdle(context)
        }
    }
}

@available(*, unavailable)
extension HTTP2ClientStreamTable: Sendable {}
