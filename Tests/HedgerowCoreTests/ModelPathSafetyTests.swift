import Foundation
import HedgerowCore
import Testing

/// Names, versions and labels from URLs never reach the file system unless they are plain, safe components; and
/// a repository whose links lead out of it is refused.
@Suite struct ModelPathSafetyTests {
    static let hostileNames = [
        "", ".", "..", "...", ".hidden", "../etc", "a/b", "/etc", "a\\b", "..\\x", "a\0b", "\0", "a\nb", " digits", "digits ",
        "%2e%2e", "%2E%2E", "..%2f", "%2f", "a%2fb", "%00", "a%00", "%252e%252e", "%252f", "%5c", "%c0%ae",
        "~", "-rf", "_x", "ü", "digits\u{202e}", String(repeating: "x", count: 129), String(repeating: "a", count: 10_000),
    ]

    @Test(arguments: hostileNames)
    func modelNamesThatCouldEscapeAreRefused(_ name: String) {
        #expect(!ModelName.isValid(name))
        #expect(throws: HedgerowError.self) { try ModelName(name) }
    }

    @Test(arguments: ["0", "00", "01", "007", "-1", "+1", " 1", "1 ", "1.0", "1e3", "0x10", "", "%31", "1%00", "\u{0661}",
                      "99999999999999999999", "9223372036854775808", String(repeating: "9", count: 19), "１"])
    func versionsArePositiveCanonicalIntegersWithoutOverflow(_ text: String) {
        #expect(throws: HedgerowError.self) { try ModelVersion(parsing: Substring(text)) }
    }

    @Test func versionsThatAreFineParse() throws {
        #expect(try ModelVersion(parsing: "1").number == 1)
        #expect(try ModelVersion(parsing: "42").number == 42)
        #expect(try ModelVersion(parsing: "999999999999999999").number == 999_999_999_999_999_999)
    }

    /// Every client API path that carries a hostile model name, version or label is refused with a 400 before any
    /// lookup, whatever the encoding; none of them parses into a model route.
    @Test(arguments: [
        "/v1/models/%2e%2e:predict", "/v1/models/..%2f..%2fetc%2fpasswd:predict", "/v1/models/%252e%252e/versions/1:predict",
        "/v1/models/a%00b", "/v1/models/.hidden/metadata", "/v1/models/digits/versions/01:predict",
        "/v1/models/digits/versions/+1:predict", "/v1/models/digits/versions/99999999999999999999:predict",
        "/v1/models/digits/labels/%2e%2e:predict", "/v1/models/digits/labels/..:predict", "/v1/models/digits/labels/a%2fb",
        "/v1/models//versions/1:predict", "/v2/models/%2e%2e/infer", "/v2/models/..%5c..%5cwin/infer", "/v2/models/a\\b/ready",
        "/v2/models/%252f/versions/1/infer", "/v2/models/digits/versions/0/infer", "/v2/models/digits/versions/%31/ready",
        "/v2/models/digits/versions/1%00/infer", "/v2/models/\(String(repeating: "x", count: 300))/infer",
    ])
    func clientPathsWithHostileComponentsAreBadRequests(_ path: String) {
        let error = #expect(throws: HedgerowError.self) { try InferenceRoute.parse(path) }
        #expect(error?.kind == .badRequest)
    }

    /// A traversal split over several segments never becomes a route either (too many segments: not an API path).
    @Test func traversalOverSeveralSegmentsIsNotARoute() throws {
        #expect(try InferenceRoute.parse("/v2/models/digits/versions/1/../../../etc/passwd/infer") == nil)
    }

    @Test func errorMessagesQuoteHostileInputSafely() {
        let quoted = ModelName.quoted("a\nb\0c'\\" + String(repeating: "x", count: 500))
        #expect(!quoted.contains("\n") && !quoted.contains("\0"))
        #expect(quoted.hasPrefix("'a\\u{a}b\\u{0}c\\u{27}\\u{5c}"))
        #expect(quoted.count < 120)
        do {
            _ = try ModelName("evil\n2026-01-01 ERROR forged log line")
            Issue.record("accepted a name with a newline")
        } catch {
            #expect(!error.message.contains("\n"))
        }
    }
}
