// An h2c → h2c proxy: SwiftNIO sockets and event loop, libnghttp2 sessions for the framing, round robin over the
// upstreams, one event loop. Measures the floor of a Swift data plane that keeps NIO but not swift-nio-http2.
//   nghttp2-spike LISTEN_PORT UPSTREAM_PORT...
// A spike: no limits, no timeouts, no error handling beyond dropping a broken connection.
import CNGHTTP2
import Glibc
import NIOCore
import NIOPosix

/// One side of the proxy's HTTP/2: an nghttp2 session bound to a NIO channel.
class Endpoint {
    var session: OpaquePointer?
    var context: ChannelHandlerContext?
    private var sendScheduled = false

    /// nghttp2's callbacks, shared by every endpoint; `user_data` is the endpoint.
    static let callbacks: OpaquePointer = {
        var callbacks: OpaquePointer?
        nghttp2_session_callbacks_new(&callbacks)
        nghttp2_session_callbacks_set_on_header_callback(callbacks) { _, frame, name, namelen, value, valuelen, _, user in
            guard let frame, let name, let value, let user else { return 0 }
            Unmanaged<Endpoint>.fromOpaque(user).takeUnretainedValue().onHeader(
                frame.pointee.hd.stream_id, UnsafeBufferPointer(start: name, count: namelen), UnsafeBufferPointer(start: value, count: valuelen))
            return 0
        }
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks) { _, _, stream, data, len, user in
            guard let data, let user else { return 0 }
            Unmanaged<Endpoint>.fromOpaque(user).takeUnretainedValue().onData(stream, UnsafeBufferPointer(start: data, count: len))
            return 0
        }
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks) { _, frame, user in
            guard let frame, let user else { return 0 }
            let type = Int(frame.pointee.hd.type)
            if (type == Int(NGHTTP2_HEADERS.rawValue) || type == Int(NGHTTP2_DATA.rawValue))
                && frame.pointee.hd.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0 {
                Unmanaged<Endpoint>.fromOpaque(user).takeUnretainedValue().onEnd(frame.pointee.hd.stream_id)
            }
            return 0
        }
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks) { _, stream, _, user in
            guard let user else { return 0 }
            Unmanaged<Endpoint>.fromOpaque(user).takeUnretainedValue().onClose(stream)
            return 0
        }
        return callbacks!
    }()

    /// Reads a stream's outgoing body from the endpoint that submitted it.
    static let bodyReader: nghttp2_data_source_read_callback = { _, stream, buffer, length, flags, _, user in
        guard let user, let buffer, let flags else { return 0 }
        return Unmanaged<Endpoint>.fromOpaque(user).takeUnretainedValue().readBody(stream, into: buffer, length: length, flags: flags)
    }

    func onHeader(_ stream: Int32, _ name: UnsafeBufferPointer<UInt8>, _ value: UnsafeBufferPointer<UInt8>) {}
    func onData(_ stream: Int32, _ data: UnsafeBufferPointer<UInt8>) {}
    func onEnd(_ stream: Int32) {}
    func onClose(_ stream: Int32) {}
    func readBody(_ stream: Int32, into buffer: UnsafeMutablePointer<UInt8>, length: Int, flags: UnsafeMutablePointer<UInt32>) -> Int { 0 }

    func receive(_ buffer: ByteBuffer) {
        buffer.withUnsafeReadableBytes { bytes in
            guard let base = bytes.baseAddress else { return }
            if nghttp2_session_mem_recv(session, base.assumingMemoryBound(to: UInt8.self), bytes.count) < 0 { context?.close(promise: nil) }
        }
        scheduleSend()
    }

    /// Everything nghttp2 wants to send leaves once per event-loop turn, in one write.
    func scheduleSend() {
        guard !sendScheduled, let context else { return }
        sendScheduled = true
        context.eventLoop.assumeIsolated().execute {
            self.sendScheduled = false
            guard self.session != nil else { return }  // the connection closed meanwhile
            var out = context.channel.allocator.buffer(capacity: 4096)
            while true {
                var data: UnsafePointer<UInt8>?
                let n = nghttp2_session_mem_send(self.session, &data)
                guard n > 0, let data else { break }
                out.writeBytes(UnsafeRawBufferPointer(start: data, count: n))
            }
            if out.readableBytes > 0 { context.writeAndFlush(NIOAny(out), promise: nil) }
        }
    }

    /// Submits headers (and a body read back through `readBody`) with `submit`, building the nghttp2_nv array.
    static func withHeaders<R>(_ fields: [(String, String)], _ body: (UnsafePointer<nghttp2_nv>, Int) -> R) -> R {
        var bytes: [UInt8] = []
        var spans: [(name: Int, nameLength: Int, value: Int, valueLength: Int)] = []
        for (name, value) in fields {
            let nameStart = bytes.count
            bytes += name.utf8
            let valueStart = bytes.count
            bytes += value.utf8
            spans.append((nameStart, name.utf8.count, valueStart, value.utf8.count))
        }
        return bytes.withUnsafeMutableBufferPointer { raw in
            guard let base = raw.baseAddress else { return body(UnsafePointer(bitPattern: 8)!, 0) }
            let nvs = spans.map {
                nghttp2_nv(name: base + $0.name, value: base + $0.value, namelen: $0.nameLength, valuelen: $0.valueLength,
                           flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue))
            }
            return nvs.withUnsafeBufferPointer { body($0.baseAddress!, $0.count) }
        }
    }
}

struct Message {
    var fields: [(String, String)] = []
    var body: [UInt8] = []
    var sent = 0

    /// Copies the next part of the body for nghttp2's data provider; true once all of it was sent.
    mutating func read(into buffer: UnsafeMutablePointer<UInt8>, length: Int, flags: UnsafeMutablePointer<UInt32>) -> (count: Int, done: Bool) {
        let n = min(length, body.count - sent)
        body.withUnsafeBufferPointer { buffer.update(from: $0.baseAddress! + sent, count: n) }
        sent += n
        if sent == body.count { flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue }
        return (n, sent == body.count)
    }
}

/// A client connection: requests in, answers out.
final class Downstream: Endpoint, ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let proxy: Proxy
    var requests: [Int32: Message] = [:]
    var responses: [Int32: Message] = [:]

    init(proxy: Proxy) { self.proxy = proxy }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        nghttp2_session_server_new(&session, Endpoint.callbacks, Unmanaged.passUnretained(self).toOpaque())
        var setting = nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS.rawValue), value: 100)
        nghttp2_submit_settings(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), &setting, 1)
        scheduleSend()
    }

    func channelInactive(context: ChannelHandlerContext) {
        nghttp2_session_del(session)
        session = nil
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) { receive(unwrapInboundIn(data)) }

    override func onHeader(_ stream: Int32, _ name: UnsafeBufferPointer<UInt8>, _ value: UnsafeBufferPointer<UInt8>) {
        requests[stream, default: Message()].fields.append((String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self)))
    }

    override func onData(_ stream: Int32, _ data: UnsafeBufferPointer<UInt8>) { requests[stream]?.body.append(contentsOf: data) }

    override func onEnd(_ stream: Int32) {
        guard let request = requests.removeValue(forKey: stream) else { return }
        guard let upstream = proxy.next() else {
            answer(stream, Message(fields: [(":status", "503"), ("content-length", "0")]))
            return
        }
        upstream.forward(request, for: self, stream: stream)
    }

    override func onClose(_ stream: Int32) {
        requests[stream] = nil
        responses[stream] = nil
    }

    func answer(_ stream: Int32, _ response: Message) {
        guard session != nil else { return }
        responses[stream] = response
        var provider = nghttp2_data_provider(source: nghttp2_data_source(ptr: nil), read_callback: Endpoint.bodyReader)
        _ = Endpoint.withHeaders(response.fields) { nghttp2_submit_response(session, stream, $0, $1, &provider) }
        scheduleSend()
    }

    override func readBody(_ stream: Int32, into buffer: UnsafeMutablePointer<UInt8>, length: Int, flags: UnsafeMutablePointer<UInt32>) -> Int {
        guard var message = responses[stream] else { flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue; return 0 }
        let (n, _) = message.read(into: buffer, length: length, flags: flags)
        responses[stream] = message
        return n
    }
}

/// A connection to a worker: requests out, answers back to the downstream stream they came from.
final class Upstream: Endpoint, ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let authority: String
    let onClose: () -> Void
    var pending: [Int32: (Downstream, Int32, Message)] = [:]
    var outgoing: [Int32: Message] = [:]

    init(authority: String, onClose: @escaping () -> Void) {
        self.authority = authority
        self.onClose = onClose
    }

    /// The worker closed the connection (its idle timeout): answer what was pending with 502, and reconnect.
    func channelInactive(context: ChannelHandlerContext) {
        nghttp2_session_del(session)
        session = nil
        self.context = nil
        let lost = pending
        pending = [:]
        outgoing = [:]
        for (downstream, id, _) in lost.values { downstream.answer(id, Message(fields: [(":status", "502"), ("content-length", "0")])) }
        onClose()
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        nghttp2_session_client_new(&session, Endpoint.callbacks, Unmanaged.passUnretained(self).toOpaque())
        nghttp2_submit_settings(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), nil, 0)
        scheduleSend()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) { receive(unwrapInboundIn(data)) }

    func forward(_ request: Message, for downstream: Downstream, stream: Int32) {
        var fields: [(String, String)] = []
        for (name, value) in request.fields where name.hasPrefix(":") && name != ":authority" { fields.append((name, value)) }
        fields.append((":authority", authority))
        for (name, value) in request.fields where !name.hasPrefix(":") && name != "content-length" { fields.append((name, value)) }
        fields.append(("content-length", String(request.body.count)))
        var provider = nghttp2_data_provider(source: nghttp2_data_source(ptr: nil), read_callback: Endpoint.bodyReader)
        let id = Endpoint.withHeaders(fields) { nghttp2_submit_request(session, nil, $0, $1, &provider, nil) }
        guard id > 0 else { return }
        outgoing[id] = request
        pending[id] = (downstream, stream, Message())
        scheduleSend()
    }

    override func readBody(_ stream: Int32, into buffer: UnsafeMutablePointer<UInt8>, length: Int, flags: UnsafeMutablePointer<UInt32>) -> Int {
        guard var message = outgoing[stream] else { flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue; return 0 }
        let (n, done) = message.read(into: buffer, length: length, flags: flags)
        outgoing[stream] = done ? nil : message
        return n
    }

    override func onHeader(_ stream: Int32, _ name: UnsafeBufferPointer<UInt8>, _ value: UnsafeBufferPointer<UInt8>) {
        let name = String(decoding: name, as: UTF8.self)
        guard name == ":status" || name == "content-type" else { return }
        pending[stream]?.2.fields.append((name, String(decoding: value, as: UTF8.self)))
    }

    override func onData(_ stream: Int32, _ data: UnsafeBufferPointer<UInt8>) { pending[stream]?.2.body.append(contentsOf: data) }

    override func onEnd(_ stream: Int32) {
        guard let (downstream, id, response) = pending.removeValue(forKey: stream) else { return }
        var answer = response
        answer.fields.append(("content-length", String(response.body.count)))
        downstream.answer(id, answer)
    }

    override func onClose(_ stream: Int32) {
        pending[stream] = nil
        outgoing[stream] = nil
    }
}

final class Proxy {
    var upstreams: [Upstream] = []
    var turn = 0
    func next() -> Upstream? {
        let live = upstreams.filter { $0.session != nil }
        guard !live.isEmpty else { return nil }
        turn &+= 1
        return live[turn % live.count]
    }

    func connect(_ port: Int, on loop: any EventLoop) {
        _ = ClientBootstrap(group: loop)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let upstream = Upstream(authority: "127.0.0.1:\(port)") { [unowned self] in
                        self.upstreams.removeAll { $0.session == nil }
                        self.connect(port, on: loop)
                    }
                    self.upstreams.append(upstream)
                    try channel.pipeline.syncOperations.addHandler(upstream)
                }
            }
            .connect(host: "127.0.0.1", port: port)
    }
}

let arguments = CommandLine.arguments
guard arguments.count >= 3, let port = Int(arguments[1]) else {
    print("usage: nghttp2-spike LISTEN_PORT UPSTREAM_PORT...")
    exit(2)
}
let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
let loop = group.next()
let proxy = try loop.submit { () -> NIOLoopBound<Proxy> in NIOLoopBound(Proxy(), eventLoop: loop) }.wait()
try loop.submit {
    for upstreamPort in arguments.dropFirst(2).compactMap({ Int($0) }) { proxy.value.connect(upstreamPort, on: loop) }
}.wait()
let server = try ServerBootstrap(group: loop)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
    .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Downstream(proxy: proxy.value)) }
    }
    .bind(host: "127.0.0.1", port: port).wait()
print("listening on \(port)")
try server.closeFuture.wait()
