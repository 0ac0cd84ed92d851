import Foundation
import HedgerowHTTP
import HedgerowMetrics
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// Runs one role as a process: logging and metrics set up once, a `ServiceGroup` that ends on SIGTERM/SIGINT.
enum RoleRunner {
    static func run(role: String, logLevel: Logger.Level, exitWithParent: Int32?, makeService: (any EventLoopGroup, Logger) throws -> any Service) async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = logLevel
            return handler
        }
        MetricsEndpoint.bootstrap(role: role.split(separator: ".").first.map(String.init) ?? role)
        let logger = Logger(label: "hedgerow.\(role)")
        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        let service = try makeService(group, logger)
        var services: [any Service] = [service]
        if let parent = exitWithParent { services.append(ParentWatcher(parent: parent, logger: logger)) }
        let serviceGroup = ServiceGroup(
            configuration: .init(
                services: services.map { .init(service: $0, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        do {
            try await serviceGroup.run()
        } catch {
            logger.error("\(role) stopped: \(error)")
            try? await group.shutdownGracefully()
            throw ExitCode.failure
        }
        try? await group.shutdownGracefully()
    }
}

/// Ends the process when the parent that started it (`hedgerow up`) is gone, so no role outlives its cluster
/// even if `up` itself was killed with SIGKILL.
struct ParentWatcher: Service {
    let parent: Int32
    let logger: Logger

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            if getppid() != parent {
                logger.warning("parent process \(parent) is gone; stopping")
                return
            }
            try? await Task.sleep(for: .milliseconds(500))
        }
    }
}

/// Reads a token file: its first line, without surrounding spaces or tabs. Clear errors if it is missing, empty,
/// too long or holds characters a bearer token cannot carry (RFC 6750: letters, digits, `-._~+/`, trailing `=`).
/// Errors name the file, never its content: the token must not reach a terminal or a log.
func readToken(_ path: String?) throws -> String? {
    guard let path else { return nil }
    let limit = 1024
    // Bounded read: a huge file or /dev/zero must not flood the process. Pipes stay allowed (`<(pass show …)`).
    guard let handle = FileHandle(forReadingAtPath: path) else {
        throw ValidationError("cannot read admin token file \(path)")
    }
    defer { try? handle.close() }
    let data = (try? handle.read(upToCount: limit + 2)) ?? Data()
    let line = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).first ?? ""
    let token = line.trimmingCharacters(in: .whitespaces)
    guard !token.isEmpty else { throw ValidationError("admin token file \(path) is empty") }
    guard token.utf8.count <= limit else { throw ValidationError("admin token in \(path) is longer than \(limit) bytes") }
    guard isBearerToken(token) else {
        throw ValidationError("admin token in \(path) holds characters a bearer token cannot carry: use letters, digits and - . _ ~ + / (and = at the end)")
    }
    return token
}

/// RFC 6750's `b64token`: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
private func isBearerToken(_ token: String) -> Bool {
    let body = token.utf8.reversed().drop { $0 == UInt8(ascii: "=") }
    guard !body.isEmpty else { return false }
    return body.allSatisfy { c in
        (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
            || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || "-._~+/".utf8.contains(c)
    }
}

/// Accepts `host:port` or `http://host:port[/]`.
func normalizeAddress(_ text: String) throws -> String {
    var address = text
    if address.hasPrefix("http://") { address.removeFirst("http://".count) }
    while address.hasSuffix("/") { address.removeLast() }
    do { _ = try HostAndPort.parse(address) } catch { throw ValidationError("\(error)") }
    return address
}

import ArgumentParser

extension Logger.Level: @retroactive ExpressibleByArgument {}
