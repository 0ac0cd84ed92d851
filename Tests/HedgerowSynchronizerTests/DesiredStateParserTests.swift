import HedgerowCore
import HedgerowSynchronizer
import Testing

@Suite struct DesiredStateParserTests {
    let file = "/srv/hedgerow/Configs/desired-state.yaml"

    @Test func parsesTheWholeSchema() throws {
        let yaml = """
            repository: ../Models
            defaults:
              replicas: 3
              hedging: { percentile: 99, budgetPercent: 2, minDelayMs: 2, maxDelayMs: 500 }
              batching: { maxBatchSize: 8, maxDelayMicros: 100 }
            workers:
              - { name: w1, address: 127.0.0.1:8701, zone: a, memoryMB: 1024 }
            models:
              - name: digits
                versions: { specific: [1, 2] }
                labels: { stable: 1, canary: 2 }
                placement: { spreadBy: zone }
              - name: other
                versions: { latest: 2 }
                replicas: 1
                placement: { workers: [w1] }
                hedging: { budgetPercent: 0, maxAttempts: 3, timeoutMs: 250 }
            """
        let state = try DesiredStateParser.parse(yaml, file: file)
        #expect(state.repository == "/srv/hedgerow/Models")
        #expect(state.workers == [.init(name: "w1", address: "127.0.0.1:8701", zone: "a", memoryMB: 1024)])
        let digits = state.models[0]
        #expect(digits.versions == .specific([try ModelVersion(1), try ModelVersion(2)]))
        #expect(digits.labels == ["stable": try ModelVersion(1), "canary": try ModelVersion(2)])
        #expect(digits.replicas == 3)
        #expect(digits.placement == .spreadByZone)
        #expect(digits.hedging == (try HedgingPolicy(percentile: 99, budgetPercent: 2, minDelayMs: 2, maxDelayMs: 500)))
        #expect(digits.batching == (try BatchingPolicy(maxBatchSize: 8, maxDelayMicros: 100)))
        let other = state.models[1]
        #expect(other.versions == .latest(2))
        #expect(other.placement == .pinned(["w1"]))
        #expect(other.hedging.budgetPercent == 0)
        #expect(other.hedging.percentile == 99)  // the rest from defaults
        #expect(other.hedging.maxAttempts == 3)
        #expect(other.hedging.timeoutMs == 250)
        #expect(digits.hedging.maxAttempts == 2 && digits.hedging.timeoutMs == nil)
    }

    @Test func reportsEveryProblemWithLineColumnAndPath() {
        let yaml = """
            repository: ../Models
            models:
              - name: digits
                replicas: 0
                replica: 3
              - name: ../etc
            """
        do {
            _ = try DesiredStateParser.parse(yaml, file: "desired.yaml")
            Issue.record("invalid file accepted")
        } catch {
            let lines = error.problems.map(\.description)
            #expect(lines.contains("desired.yaml:4:15: models[0].replicas: must be ≥ 1, got 0"), "\(lines)")
            #expect(lines.contains { $0.hasPrefix("desired.yaml:5:5: models[0].replica: unknown key 'replica'") }, "\(lines)")
            #expect(lines.contains { $0.hasPrefix("desired.yaml:6:11: models[1].name: '../etc' is not a valid model name") }, "\(lines)")
        }
    }

    @Test func validationRequiredIsAModelsChoice() throws {
        let yaml = """
            repository: ../Models
            models:
              - { name: checked, validation: { required: true } }
              - { name: unchecked, validation: { required: false } }
              - { name: unsaid }
            """
        let models = try DesiredStateParser.parse(yaml, file: file).models
        #expect(models.map(\.requireReference) == [true, false, false])
        do {
            _ = try DesiredStateParser.parse("repository: a\nmodels:\n  - { name: x, validation: { required: maybe, strict: 1 } }\n", file: "d.yaml")
            Issue.record("invalid validation accepted")
        } catch {
            let lines = error.problems.map(\.description)
            #expect(lines.contains { $0.contains("models[0].validation.required: expected true or false") }, "\(lines)")
            #expect(lines.contains { $0.contains("models[0].validation.strict: unknown key 'strict'") }, "\(lines)")
        }
    }

    @Test func loggingComesFromTheModelOrTheDefaults() throws {
        let yaml = """
            repository: ../Models
            defaults:
              logging: { samplePercent: 2, path: skew/ }
            models:
              - { name: a }
              - { name: b, logging: { samplePercent: 50 } }
            """
        let models = try DesiredStateParser.parse(yaml, file: file).models
        #expect(models[0].logging == (try InferenceLogPolicy(samplePercent: 2, path: "skew/")))
        #expect(models[1].logging == (try InferenceLogPolicy(samplePercent: 50, path: "skew/")))
        #expect(try DesiredStateParser.parse("repository: a\nmodels:\n  - { name: x }\n", file: file).models[0].logging == nil)
        do {
            _ = try DesiredStateParser.parse("repository: a\nmodels:\n  - { name: x, logging: { samplePercent: 150, path: ../../etc } }\n", file: "d.yaml")
            Issue.record("invalid logging accepted")
        } catch {
            let lines = error.problems.map(\.description)
            #expect(lines.contains { $0.contains("models[0].logging: samplePercent must be from 0 to 100") }, "\(lines)")
        }
        do {
            _ = try DesiredStateParser.parse("repository: a\nmodels:\n  - { name: x, logging: { path: /var/log } }\n", file: "d.yaml")
            Issue.record("absolute logging path accepted")
        } catch {
            #expect(error.problems.map(\.description).contains { $0.contains("must be relative") }, "\(error.problems)")
        }
    }

    @Test func aCanaryIsReadWithItsDefaultsAndRefusedWithLocatedProblems() throws {
        let yaml = """
            repository: ../Models
            models:
              - name: digits
                versions: { specific: [1, 2] }
                labels: { stable: 1 }
                canary: { version: 2, splitPercent: 30 }
              - name: other
                versions: { specific: [1, 2] }
                canary:
                  version: 2
                  mirrorPercent: 20
                  mirrorTimeoutMs: 250
                  compare: { atol: 1e-5 }
                  abort: { minSamples: 50, maxTop1DisagreePercent: 0.5 }
            """
        let models = try DesiredStateParser.parse(yaml, file: file).models
        #expect(models[0].canary == (try CanaryPolicy(version: 2, splitPercent: 30)))
        let mirrored = try #require(models[1].canary)
        #expect(mirrored.mirrorPercent == 20 && mirrored.splitPercent == 0 && mirrored.mirrorTimeoutMs == 250)
        #expect(mirrored.compare == .init(atol: 1e-5, rtol: 1e-3))
        #expect(mirrored.abort == .init(minSamples: 50, maxTop1DisagreePercent: 0.5, maxOutOfTolerancePercent: 5, maxErrorPercent: 1))
        let bad = """
            repository: ../Models
            models:
              - name: digits
                versions: { specific: [1, 2] }
                canary: { version: 3, splitPercent: 130, mirrorPercent: 20, compare: { atol: -1, ztol: 1 }, abort: { minSamples: 0 } }
              - name: other
                canary: { version: 2, abort: { minSamples: 10 } }
            """
        do {
            _ = try DesiredStateParser.parse(bad, file: "d.yaml")
            Issue.record("invalid canary accepted")
        } catch {
            let lines = error.problems.map(\.description)
            #expect(lines.contains { $0.contains("models[0].canary.version: version 3 is not among the model's versions (1, 2)") }, "\(lines)")
            #expect(lines.contains { $0.contains("models[0].canary.compare: unknown key 'ztol'") || $0.contains("models[0].canary.compare.ztol") }, "\(lines)")
            #expect(lines.contains { $0.contains("models[0].canary.abort.minSamples") }, "\(lines)")
            #expect(lines.contains { $0.contains("models[1].canary: compare and abort judge mirrored requests") }, "\(lines)")
        }
        // The values each check alone, with the field named.
        for (block, message) in [("splitPercent: 130", "splitPercent must be from 0 to 100"), ("mirrorPercent: -1", "mirrorPercent must be from 0 to 100"),
                                 ("mirrorPercent: 5, compare: { atol: -1 }", "compare.atol must be a finite number"),
                                 ("mirrorPercent: 5, abort: { maxErrorPercent: 101 }", "abort.maxErrorPercent must be from 0 to 100")] {
            let text = "repository: a\nmodels:\n  - { name: x, canary: { version: 2, \(block) } }\n"
            do {
                _ = try DesiredStateParser.parse(text, file: "d.yaml")
                Issue.record("accepted: \(block)")
            } catch {
                #expect(error.problems.map(\.description).contains { $0.contains("models[0].canary: \(message)") }, "\(block): \(error.problems)")
            }
        }
    }

    @Test func syntaxErrorsAreLocated() {
        #expect(throws: DesiredStateError.self) { try DesiredStateParser.parse("models: [unclosed", file: "x.yaml") }
        do { _ = try DesiredStateParser.parse("repository: a\nmodels:\n  - name: x\n   bad: [", file: "x.yaml") } catch {
            #expect(error.problems.first?.description.hasPrefix("x.yaml:") == true)
            #expect(error.problems.first?.message.contains("YAML syntax error") == true)
        }
    }

    @Test func invalidHedgingAndDuplicatesAreRefused() {
        let yaml = """
            repository: /m
            models:
              - name: a
                hedging: { minDelayMs: 50, maxDelayMs: 10 }
              - name: a
            """
        do { _ = try DesiredStateParser.parse(yaml, file: "f.yaml"); Issue.record("accepted") } catch {
            let text = error.description
            #expect(text.contains("models[0].hedging: maxDelayMs (10) must be ≥ minDelayMs (50)"), "\(text)")
            #expect(text.contains("model 'a' is listed twice"), "\(text)")
        }
    }

    @Test func emptyOrMissingRepositoryIsRefused() {
        #expect(throws: DesiredStateError.self) { try DesiredStateParser.parse("", file: "f.yaml") }
        #expect(throws: DesiredStateError.self) { try DesiredStateParser.parse("models: []", file: "f.yaml") }
    }
}
