import Foundation
import HedgerowCore
import HedgerowHTTP
@testable import HedgerowWorker
import NIOCore
import NIOHTTP1
import Testing

/// The worker's admin API answers 401 to anything but exactly `Bearer <token>`, compares in constant time, and
/// never says what the token is.
@Suite struct AdminAuthTests {
    static let token = "Zt9-kQ2.x_7~a+b/c=="

    @Test(arguments: [
        "", "Bearer", "Bearer ", "Bearer  ", "Basic \(token)", "Token \(token)", "Bearer\(token)", "Bearer  \(token)",
        "Bearer \(token) ", " Bearer \(token)", "Bearer\t\(token)", "Bearer \(token)\t", "Bearer \(token)\r\n", "Bearer \(token)\0",
        "Bearer \(token.dropLast())", "Bearer \(token.prefix(1))", "Bearer \(token)x", "Bearer \(token)\(token)",
        "Bearer \(token.uppercased())", "Bearer \"\(token)\"", "\(token)", "Bearer ,\(token)", "Bearer \(token),",
        "Bearer x\(token.dropFirst())",
    ])
    func anythingButTheExactTokenIsRefused(_ header: String) {
        #expect(!BearerToken.matches(header: header, expected: Self.token))
    }

    @Test func theExactTokenWithTheSchemeInAnyCaseIsAccepted() {
        #expect(BearerToken.matches(header: "Bearer \(Self.token)", expected: Self.token))
        #expect(BearerToken.matches(header: "bearer \(Self.token)", expected: Self.token))
        #expect(BearerToken.matches(header: "BEARER \(Self.token)", expected: Self.token))
    }

    @Test func anEmptyExpectedTokenMatchesNothing() {
        #expect(!ConstantTime.equal(Array("".utf8), Array("".utf8)))
        #expect(!BearerToken.matches(header: "Bearer ", expected: ""))
    }

    /// The comparison reads the same bytes whatever the given token holds: no early exit at the first differing
    /// byte, and a shorter or longer token does not stop it early either. (A timing test would be flaky; counting
    /// the reads is exact and fails as soon as someone adds a `return false` in the loop.)
    @Test func theComparisonReadsEveryByteWhereverTheTokensDiffer() {
        let expected = Array(Self.token.utf8)
        func reads(_ given: [UInt8]) -> (given: Int, expected: Int, equal: Bool) {
            let g = CountingBytes(given), e = CountingBytes(expected)
            let equal = ConstantTime.equal(g, e)
            return (g.counter.reads, e.counter.reads, equal)
        }
        var firstDiffers = expected; firstDiffers[0] ^= 1
        var lastDiffers = expected; lastDiffers[expected.count - 1] ^= 1
        let cases: [[UInt8]] = [expected, firstDiffers, lastDiffers, Array(expected.prefix(1)), [], expected + expected, Array(repeating: 0, count: expected.count)]
        for given in cases {
            let r = reads(given)
            #expect(r.expected == expected.count, "read \(r.expected) of \(expected.count) expected bytes for a \(given.count)-byte token")
            #expect(r.given == min(given.count, expected.count))
            #expect(r.equal == (given == expected))
        }
    }

    @Test func aWorkerWithoutATokenRefusesEveryAdminCall() throws {
        let response = try #require(AdminRoutes.authenticate(["authorization": "Bearer anything"], expected: nil))
        #expect(response.status == .unauthorized)
        #expect(text(response).contains("--admin-token-file"))
    }

    @Test func refusalsSay401WithAChallengeAndNeverEchoAToken() throws {
        let given = "Bearer \(Self.token.dropLast())"
        let headerSets: [HTTPHeaders] = [
            [:], ["authorization": given], ["authorization": "Basic \(Self.token)"],
            HTTPHeaders([("authorization", "Bearer \(Self.token)"), ("authorization", "Bearer \(Self.token)")]),
        ]
        for headers in headerSets {
            let response = try #require(AdminRoutes.authenticate(headers, expected: Self.token))
            #expect(response.status == .unauthorized)
            #expect(response.headers.first(name: "www-authenticate")?.hasPrefix("Bearer") == true)
            #expect(!text(response).contains(Self.token))
            #expect(!text(response).contains(String(Self.token.dropLast())))
        }
        #expect(AdminRoutes.authenticate(["authorization": "Bearer \(Self.token)"], expected: Self.token) == nil)
    }

    private func text(_ response: HTTPResponse) -> String { String(buffer: response.body) }
}

/// A byte collection that counts how often its elements are read.
struct CountingBytes: RandomAccessCollection {
    final class Counter: @unchecked Sendable { var reads = 0 }
    let bytes: [UInt8]
    let counter = Counter()
    init(_ bytes: [UInt8]) { self.bytes = bytes }
    var startIndex: Int { bytes.startIndex }
    var endIndex: Int { bytes.endIndex }
    subscript(position: Int) -> UInt8 {
        counter.reads += 1
        return bytes[position]
    }
}
