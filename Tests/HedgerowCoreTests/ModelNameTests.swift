import HedgerowCore
import Testing

@Suite struct ModelNameTests {
    @Test(arguments: ["digits", "a", "Model_2.v-1", String(repeating: "x", count: 128)])
    func acceptsRepositorySafeNames(_ name: String) throws {
        #expect(try ModelName(name).rawValue == name)
    }

    @Test(arguments: ["", "..", ".hidden", "a/b", "../etc", "-x", "a b", "ü", String(repeating: "x", count: 129)])
    func refusesNamesThatCouldEscapeTheRepository(_ name: String) {
        #expect(throws: HedgerowError.self) { try ModelName(name) }
    }

    @Test func versionsArePositiveDecimalIntegers() throws {
        #expect(try ModelVersion(parsing: "42").number == 42)
        for bad in ["0", "-1", "+1", "1.5", "", "abc", "99999999999999999999"] {
            #expect(throws: HedgerowError.self) { try ModelVersion(parsing: Substring(bad)) }
        }
    }
}
