import Foundation
import NIOSSL

/// Builds the server's TLS context from PEM files, offering h2 then http/1.1 by ALPN. Errors name the file
/// and what is wrong with it, so a bad `--tls-cert`/`--tls-key` stops the process at start, not at the first
/// handshake.
public enum TLSFiles {
    public static func serverContext(certificateChain certificateFile: String, privateKey keyFile: String) throws -> NIOSSLContext {
        for file in [certificateFile, keyFile] where !FileManager.default.isReadableFile(atPath: file) {
            throw HTTPServerError(message: "cannot read '\(file)': no such file, or not readable")
        }
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificateFile)
        } catch {
            throw HTTPServerError(message: "cannot read the TLS certificate chain '\(certificateFile)' (PEM expected): \(error)")
        }
        guard !chain.isEmpty else { throw HTTPServerError(message: "no certificate in '\(certificateFile)' (PEM expected)") }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: keyFile, format: .pem)
        } catch {
            throw HTTPServerError(message: "cannot read the TLS private key '\(keyFile)' (unencrypted PEM expected): \(error)")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.applicationProtocols = ["h2", "http/1.1"]
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw HTTPServerError(message: "the TLS key '\(keyFile)' does not fit the certificate '\(certificateFile)': \(error)")
        }
    }
}
