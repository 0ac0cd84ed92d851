import HedgerowCore
import Testing

@Suite struct InferenceRouteTests {
    let digits = try! ModelName("digits")

    @Test func parsesTensorFlowServingPaths() throws {
        #expect(try InferenceRoute.parse("/v1/models/digits:predict") == .model(digits, .latest, .tfPredict))
        #expect(try InferenceRoute.parse("/v1/models/digits/versions/2:predict") == .model(digits, .version(try ModelVersion(2)), .tfPredict))
        #expect(try InferenceRoute.parse("/v1/models/digits/labels/stable:predict") == .model(digits, .label("stable"), .tfPredict))
        #expect(try InferenceRoute.parse("/v1/models/digits") == .model(digits, .latest, .tfStatus))
        #expect(try InferenceRoute.parse("/v1/models/digits/versions/3/metadata") == .model(digits, .version(try ModelVersion(3)), .tfMetadata))
        #expect(try InferenceRoute.parse("/v1/models/digits/metadata?x=1") == .model(digits, .latest, .tfMetadata))
    }

    @Test func parsesKServeV2Paths() throws {
        #expect(try InferenceRoute.parse("/v2") == .v2Server)
        #expect(try InferenceRoute.parse("/v2/health/live") == .v2Live)
        #expect(try InferenceRoute.parse("/v2/health/ready") == .v2ServerReady)
        #expect(try InferenceRoute.parse("/v2/models/digits/infer") == .model(digits, .latest, .v2Infer))
        #expect(try InferenceRoute.parse("/v2/models/digits/versions/1/ready") == .model(digits, .version(try ModelVersion(1)), .v2Ready))
        #expect(try InferenceRoute.parse("/v2/models/digits") == .model(digits, .latest, .v2Metadata))
    }

    @Test func leavesOtherPathsAloneAndRefusesMalformedOnes() throws {
        #expect(try InferenceRoute.parse("/metrics") == nil)
        #expect(try InferenceRoute.parse("/v1/models/digits/versions/1/2/3") == nil)
        #expect(throws: HedgerowError.self) { try InferenceRoute.parse("/v1/models/..:predict") }
        #expect(throws: HedgerowError.self) { try InferenceRoute.parse("/v2/models/digits/versions/zero/infer") }
    }

    @Test func pinsTheResolvedVersionForTheWorker() throws {
        let label = try #require(try InferenceRoute.parse("/v1/models/digits/labels/stable:predict"))
        #expect(label.path(pinnedTo: try ModelVersion(7)) == "/v1/models/digits/versions/7:predict")
        let v2 = try #require(try InferenceRoute.parse("/v2/models/digits/infer"))
        #expect(v2.path(pinnedTo: try ModelVersion(1)) == "/v2/models/digits/versions/1/infer")
    }
}
