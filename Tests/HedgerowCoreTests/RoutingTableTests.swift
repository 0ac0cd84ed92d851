import Foundation
import HedgerowCore
import Testing

@Suite struct RoutingTableTests {
    let table = RoutingTable(generation: 4, models: [
        "digits": .init(versions: ["1": ["127.0.0.1:1", "127.0.0.1:2"], "2": ["127.0.0.1:3"]], labels: ["stable": 1, "canary": 2], defaultVersion: 2, hedging: .default),
    ])
    let digits = try! ModelName("digits")

    @Test func resolvesLatestVersionsAndLabels() throws {
        #expect(try table.resolve(model: digits, selector: .latest).0 == ModelVersion(2))
        #expect(try table.resolve(model: digits, selector: .label("stable")).1 == ["127.0.0.1:1", "127.0.0.1:2"])
        #expect(try table.resolve(model: digits, selector: .version(ModelVersion(1))).0 == ModelVersion(1))
    }

    @Test func unknownModelVersionOrLabelIsNotFound() {
        #expect(throws: HedgerowError(.notFound, "model 'other' is not served here")) {
            try table.resolve(model: try ModelName("other"), selector: .latest)
        }
        #expect(throws: HedgerowError(.notFound, "model 'digits' has no version 9")) {
            try table.resolve(model: digits, selector: .version(try ModelVersion(9)))
        }
        #expect(throws: HedgerowError(.notFound, "model 'digits' has no label 'beta'")) {
            try table.resolve(model: digits, selector: .label("beta"))
        }
    }

    @Test func jsonMatchesTheWireContract() throws {
        let data = try JSONEncoder().encode(table)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let digits = try #require((object["models"] as? [String: Any])?["digits"] as? [String: Any])
        #expect(digits["default"] as? Int == 2)
        #expect((digits["hedging"] as? [String: Any])?["budgetPercent"] as? Double == 5)
        #expect(try JSONDecoder().decode(RoutingTable.self, from: data) == table)
    }

    @Test func policiesAreValidatedAtConstruction() {
        #expect(throws: HedgerowError.self) { try HedgingPolicy(percentile: 100, budgetPercent: 5, minDelayMs: 1, maxDelayMs: 10) }
        #expect(throws: HedgerowError.self) { try HedgingPolicy(percentile: 95, budgetPercent: 5, minDelayMs: 20, maxDelayMs: 10) }
        #expect(throws: HedgerowError.self) { try HedgingPolicy(percentile: 95, budgetPercent: 5, minDelayMs: 1, maxDelayMs: 10, maxAttempts: 0) }
        #expect(throws: HedgerowError.self) { try HedgingPolicy(percentile: 95, budgetPercent: 5, minDelayMs: 1, maxDelayMs: 10, timeoutMs: 0) }
        #expect(throws: HedgerowError.self) { try BatchingPolicy(maxBatchSize: 0, maxDelayMicros: 10) }
    }

    @Test func tablesWithoutZonesDecode() throws {
        let json = #"{"versions": {"1": ["h:1"]}, "labels": {}, "default": 1, "hedging": {"percentile": 95, "budgetPercent": 5, "minDelayMs": 1, "maxDelayMs": 1000}}"#
        let routes = try JSONDecoder().decode(RoutingTable.ModelRoutes.self, from: Data(json.utf8))
        #expect(routes.zones.isEmpty)
        #expect(routes.replicas(of: try ModelVersion(1)) == ["h:1"])
    }

    @Test func policiesFromTablesWithoutAttemptsOrTimeoutDecodeWithDefaults() throws {
        let json = #"{"percentile": 95, "budgetPercent": 5, "minDelayMs": 1, "maxDelayMs": 1000}"#
        let policy = try JSONDecoder().decode(HedgingPolicy.self, from: Data(json.utf8))
        #expect(policy == .default)
        let invalid = #"{"percentile": 95, "budgetPercent": 5, "minDelayMs": 1, "maxDelayMs": 1000, "maxAttempts": 99}"#
        #expect(throws: HedgerowError.self) { try JSONDecoder().decode(HedgingPolicy.self, from: Data(invalid.utf8)) }
    }
}
