import Foundation
import Testing

/// The router's one port serves TLS (h2 and HTTP/1.1 by ALPN) next to cleartext h2c and HTTP/1.1, checked with
/// curl as a user would, and refuses a key that does not fit its certificate at start.
@Suite(.serialized) struct RouterTLSTests {
    @Test func onePortServesTLSByALPNAndCleartext() async throws {
        let setup = try RoleTestSetup("tls")
        defer { setup.removeDirectory() }
        let cert = setup.directory.appendingPathComponent("cert.pem").path, key = setup.directory.appendingPathComponent("key.pem").path
        try Self.run("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                                 "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost",
                                 "-addext", "subjectAltName=IP:127.0.0.1"])
        let router = try HedgerowProcess(["router", "--listen", setup.router, "--synchronizer", setup.synchronizer,
                                          "--tls-cert", cert, "--tls-key", key])
        let listening = await router.waitForOutput("listening", timeout: .seconds(30))
        try #require(listening, "\(router.text)")

        let cases: [(flags: [String], scheme: String, version: String)] = [
            (["--http2"], "https", "2"),                      // TLS, ALPN picks h2
            (["--http1.1"], "https", "1.1"),                  // TLS, ALPN picks http/1.1
            (["--http2-prior-knowledge"], "http", "2"),       // cleartext h2c
            (["--http1.1"], "http", "1.1"),                   // cleartext HTTP/1.1
        ]
        for c in cases {
            let out = try Self.run("curl", ["-sS", "--cacert", cert, "-w", " %{http_version}"] + c.flags + ["\(c.scheme)://\(setup.router)/v2/health/live"])
            #expect(out == #"{"live":true} "# + c.version, "\(c.scheme) \(c.flags): \(out)")
        }
        await router.stop()

        // A key that belongs to another certificate: the router refuses to start and says which files.
        let otherKey = setup.directory.appendingPathComponent("other.pem").path
        try Self.run("openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out", otherKey])
        let refused = try HedgerowProcess(["router", "--listen", setup.router, "--tls-cert", cert, "--tls-key", otherKey])
        let exited = await refused.waitForOutput("does not fit", timeout: .seconds(30))
        #expect(exited, "\(refused.text)")
        await refused.stop()
    }

    /// Runs a tool to completion (bounded by the tool's own behaviour on loopback) and returns its standard output.
    @discardableResult
    static func run(_ tool: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [tool] + arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw TLSTestError(message: "\(tool) \(arguments.joined(separator: " ")) exited with \(process.terminationStatus)")
        }
        return String(decoding: data, as: UTF8.self)
    }

    struct TLSTestError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }
}
