import Foundation
import HedgerowHTTP
import NIOCore

/// Fault injection for tests of query-of-death containment: wraps the worker's responder and kills the process
/// (a trap, as an unchecked overflow in a decoder would) when an inference request's body contains `marker`.
/// Only installed when `--fault-crash-on-body` is given; never in a normal deployment.
struct CrashFaultResponder: HTTPResponder {
    let wrapped: any HTTPResponder
    let marker: [UInt8]

    func respond(to request: HTTPRequest, context: RequestContext) -> EventLoopFuture<HTTPResponse> {
        if request.method == .POST, !request.path.hasPrefix("/admin/"), contains(request.body, marker) {
            FileHandle.standardError.write(Data("fault injection: the request body holds the crash marker; crashing now\n".utf8))
            fatalError("fault injection: crash on body")
        }
        return wrapped.respond(to: request, context: context)
    }

    private func contains(_ body: ByteBuffer, _ marker: [UInt8]) -> Bool {
        guard !marker.isEmpty, body.readableBytes >= marker.count else { return false }
        return Array(body.readableBytesView).firstRange(of: marker) != nil
    }
}
