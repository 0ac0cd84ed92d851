import HedgerowCore
import NIOHTTP1

/// Bearer-token check (RFC 6750): the scheme `Bearer` (any case), one space, then the token, byte for byte.
/// No trimming: a token with extra whitespace around it, a prefix of the token, or the token plus more is wrong.
public enum BearerToken {
    public static func matches(header: String, expected: String) -> Bool {
        let bytes = Array(header.utf8)
        let scheme = Array("bearer ".utf8)
        guard bytes.count > scheme.count else { return false }
        for i in 0..<scheme.count where asciiLowercased(bytes[i]) != scheme[i] { return false }
        return ConstantTime.equal(bytes[scheme.count...], Array(expected.utf8))
    }

    /// nil when `headers` carry exactly one `Authorization` header with the right bearer token; otherwise the 401
    /// to send (with `WWW-Authenticate: Bearer`). Messages say what to fix (`hint` names where the token comes
    /// from), never what the token is. The raw header values are compared: no comma splitting or trimming.
    public static func authenticate(_ headers: HTTPHeaders, expected: String, hint: String) -> HTTPResponse? {
        let given = headers["authorization"]
        if given.isEmpty { return unauthorized("missing admin token: send Authorization: Bearer <token>") }
        if given.count > 1 { return unauthorized("more than one Authorization header: send exactly one, Authorization: Bearer <token>") }
        if matches(header: given[0], expected: expected) { return nil }
        return unauthorized("wrong admin token or scheme: send Authorization: Bearer <token> with \(hint)")
    }

    /// A 401 with `WWW-Authenticate: Bearer`.
    public static func unauthorized(_ message: String) -> HTTPResponse {
        var response = HTTPResponse.error(HedgerowError(.unauthorized, message))
        response.headers.replaceOrAdd(name: "www-authenticate", value: #"Bearer realm="hedgerow-admin""#)
        return response
    }

    private static func asciiLowercased(_ c: UInt8) -> UInt8 { c >= 65 && c <= 90 ? c + 32 : c }
}

/// Comparison of secrets whose running time does not depend on where they differ.
public enum ConstantTime {
    /// Whether `given` equals `expected`. Every byte of `expected` is read, and as many bytes of `given`, whatever
    /// they hold: no exit at the first difference (which would let a caller find the token byte by byte by timing),
    /// and a length difference only sets a bit instead of returning early (which would let it find the length).
    /// The work depends on `expected.count` alone, which the caller cannot vary. An empty `expected` matches
    /// nothing.
    public static func equal<Given: Collection<UInt8>, Expected: Collection<UInt8>>(_ given: Given, _ expected: Expected) -> Bool {
        var difference: UInt = given.count == expected.count ? 0 : 1
        var g = given.startIndex
        for e in expected {
            // Past the end of `given`, compare against a byte of `expected` itself (XOR 0xFF never equals it).
            let other: UInt8
            if g < given.endIndex {
                other = given[g]
                g = given.index(after: g)
            } else {
                other = ~e
            }
            difference |= UInt(other ^ e)
        }
        return difference == 0 && !expected.isEmpty
    }
}
