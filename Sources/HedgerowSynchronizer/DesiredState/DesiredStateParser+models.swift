import HedgerowCore
import Yams

extension DesiredStateParser {
    mutating func model(_ node: Node, _ path: String, defaults: ModelDefaults, workers: [DesiredState.StaticWorker]) -> DesiredState.ModelSpec? {
        guard let m = mapping(node, path, allowed: ["name", "versions", "labels", "replicas", "placement", "hedging", "batching", "validation", "logging", "canary", "sharding"]) else { return nil }
        guard let nameText = string(m["name"], "\(path).name", required: true) else { return nil }
        guard let name = try? ModelName(nameText) else {
            problem(m["name"], "\(path).name", "'\(nameText)' is not a valid model name (1-128 of A-Z a-z 0-9 _ . -, starting with a letter or digit)")
            return nil
        }
        var versions = DesiredState.VersionPolicy.latest(1)
        if let v = m["versions"], let vm = mapping(v, "\(path).versions", allowed: ["latest", "specific"]) {
            if vm["latest"] != nil && vm["specific"] != nil {
                problem(v, "\(path).versions", "give either 'latest' or 'specific', not both")
            } else if let latest = vm["latest"] {
                versions = .latest(int(latest, "\(path).versions.latest", in: DesiredState.Limits.latestVersions) ?? 1)
            } else if let specific = vm["specific"], let list = sequence(specific, "\(path).versions.specific") {
                let numbers = list.enumerated().compactMap { i, n in int(n, "\(path).versions.specific[\(i)]", in: DesiredState.Limits.version) }
                if numbers.isEmpty { problem(specific, "\(path).versions.specific", "list at least one version") }
                versions = .specific(numbers.compactMap { try? ModelVersion($0) })
            } else {
                problem(v, "\(path).versions", "give 'latest: N' or 'specific: [versions]'")
            }
        }
        var labels: [String: ModelVersion] = [:]
        if let l = m["labels"], let lm = mapping(l, "\(path).labels", allowed: nil) {
            for (key, value) in lm {
                guard ModelName.isValid(key) else { problem(value, "\(path).labels", "invalid label name '\(key)'"); continue }
                if let n = int(value, "\(path).labels.\(key)", in: DesiredState.Limits.version), let v = try? ModelVersion(n) { labels[key] = v }
            }
        }
        let replicas = m["replicas"].flatMap { int($0, "\(path).replicas", in: DesiredState.Limits.replicas) } ?? defaults.replicas
        var placement = DesiredState.Placement.any
        if let p = m["placement"], let pm = mapping(p, "\(path).placement", allowed: ["spreadBy", "workers"]) {
            if let spread = pm["spreadBy"] {
                if string(spread, "\(path).placement.spreadBy") == "zone" { placement = .spreadByZone } else {
                    problem(spread, "\(path).placement.spreadBy", "only 'zone' is supported")
                }
            }
            if let pinned = pm["workers"], let list = sequence(pinned, "\(path).placement.workers") {
                let names = list.enumerated().compactMap { i, n in string(n, "\(path).placement.workers[\(i)]", required: true) }
                if names.isEmpty { problem(pinned, "\(path).placement.workers", "list at least one worker") }
                placement = .pinned(names)
            }
        }
        let hedgingPolicy = m["hedging"].flatMap { hedging($0, "\(path).hedging", base: defaults.hedging) } ?? defaults.hedging
        let batchingPolicy = m["batching"].flatMap { batching($0, "\(path).batching", base: defaults.batching ?? .default) } ?? defaults.batching
        let loggingPolicy = m["logging"].flatMap { logging($0, "\(path).logging", base: defaults.logging) } ?? defaults.logging
        var requireReference = false
        if let v = m["validation"], let vm = mapping(v, "\(path).validation", allowed: ["required"]), let required = vm["required"] {
            if let flag = required.bool { requireReference = flag } else {
                problem(required, "\(path).validation.required", "expected true or false, found \(kind(required))")
            }
        }
        let canarySplit = m["canary"].flatMap { canary($0, "\(path).canary", versions: versions) }
        let shardingPolicy = m["sharding"].flatMap { sharding($0, "\(path).sharding", model: name, defaultReplicas: defaults.replicas) }
        if let node = m["sharding"], shardingPolicy != nil {
            // Both read whole answers, which a sharded entry only has with its lookups in: not supported together.
            if requireReference { problem(node, "\(path).sharding", "a sharded model cannot require reference.json (validation: { required: true }): its entry warms up without its shards") }
            if canarySplit?.mirrorPercent ?? 0 > 0 { problem(node, "\(path).sharding", "a sharded model cannot mirror a canary yet; set mirrorPercent to 0") }
        }
        return DesiredState.ModelSpec(
            name: name, versions: versions, labels: labels, replicas: replicas, placement: placement,
            hedging: hedgingPolicy, batching: batchingPolicy, requireReference: requireReference,
            logging: loggingPolicy, canary: canarySplit, sharding: shardingPolicy
        )
    }

    /// `sharding: { tables: [user_emb, item_emb], shards: 4, by: mod, replicas: 2 }`, or `minBytes: N` instead of
    /// (or besides) `tables`. Whether each table can be split is checked against the model file when it is placed.
    mutating func sharding(_ node: Node, _ path: String, model: ModelName, defaultReplicas: Int) -> ShardingPolicy? {
        guard let s = mapping(node, path, allowed: ["tables", "minBytes", "shards", "by", "replicas"]) else { return nil }
        var tables: [String]?
        if let t = s["tables"], let list = sequence(t, "\(path).tables") {
            let names = list.enumerated().compactMap { i, n in string(n, "\(path).tables[\(i)]", required: true) }
            if names.isEmpty { problem(t, "\(path).tables", "list at least one table") }
            if names.count > ShardingPolicy.tableLimit.upperBound { problem(t, "\(path).tables", "at most \(ShardingPolicy.tableLimit.upperBound) tables") }
            if let long = names.first(where: { !DesiredState.Limits.nameLength.contains($0.utf8.count) }) {
                problem(t, "\(path).tables", "table name '\(long.prefix(60))…' is longer than \(DesiredState.Limits.nameLength.upperBound) bytes")
            }
            if Set(names).count != names.count { problem(t, "\(path).tables", "a table is listed twice") }
            tables = names
        }
        let minBytes = s["minBytes"].flatMap { int($0, "\(path).minBytes", in: 1...DesiredState.Limits.modelBytes.upperBound) }
        if s["tables"] == nil && s["minBytes"] == nil {
            problem(node, path, "name the tables to split (tables: [name, ...]) or a size (minBytes: N)")
        }
        guard let shards = int(s["shards"], "\(path).shards", in: ShardingPolicy.shardLimit) else {
            if s["shards"] == nil { problem(node, "\(path).shards", "is required (how many shards, at least 1)") }
            return nil
        }
        var scheme = ShardingPolicy.Scheme.mod
        if let by = s["by"], let text = string(by, "\(path).by") {
            guard let parsed = ShardingPolicy.Scheme(rawValue: text) else {
                problem(by, "\(path).by", "expected 'mod' or 'range', found '\(text.prefix(60))'")
                return nil
            }
            scheme = parsed
        }
        let replicas = s["replicas"].flatMap { int($0, "\(path).replicas", in: DesiredState.Limits.replicas) } ?? defaultReplicas
        if model.rawValue.utf8.count > ShardingPolicy.maxModelNameLength {
            problem(node, path, "a sharded model's name must be at most \(ShardingPolicy.maxModelNameLength) characters (its shards are named '<model>.ps-<k>')")
            return nil
        }
        return ShardingPolicy(tables: tables, minBytes: minBytes, shards: shards, scheme: scheme, replicas: replicas)
    }

    mutating func hedging(_ node: Node, _ path: String, base: HedgingPolicy) -> HedgingPolicy? {
        guard let h = mapping(node, path, allowed: ["percentile", "budgetPercent", "minDelayMs", "maxDelayMs", "maxAttempts", "timeoutMs"]) else { return nil }
        let percentile = h["percentile"].flatMap { double($0, "\(path).percentile") } ?? base.percentile
        let budget = h["budgetPercent"].flatMap { double($0, "\(path).budgetPercent") } ?? base.budgetPercent
        let minDelay = h["minDelayMs"].flatMap { int($0, "\(path).minDelayMs", in: DesiredState.Limits.milliseconds) } ?? base.minDelayMs
        let maxDelay = h["maxDelayMs"].flatMap { int($0, "\(path).maxDelayMs", in: DesiredState.Limits.milliseconds) } ?? base.maxDelayMs
        let maxAttempts = h["maxAttempts"].flatMap { int($0, "\(path).maxAttempts", in: 1...10) } ?? base.maxAttempts
        let timeout = h["timeoutMs"].flatMap { int($0, "\(path).timeoutMs", in: 1...DesiredState.Limits.milliseconds.upperBound) } ?? base.timeoutMs
        do {
            return try HedgingPolicy(percentile: percentile, budgetPercent: budget, minDelayMs: minDelay, maxDelayMs: maxDelay,
                                     maxAttempts: maxAttempts, timeoutMs: timeout)
        } catch {
            problem(node, path, error.message.replacingOccurrences(of: "hedging.", with: ""))
            return nil
        }
    }

    /// `canary: { version: 2, splitPercent: 10, mirrorPercent: 20, mirrorTimeoutMs: 1000, compare: { atol, rtol },
    /// abort: { minSamples, maxTop1DisagreePercent, maxOutOfTolerancePercent, maxErrorPercent } }`. The version must be
    /// one the model serves (when `versions` lists them); what is left out takes `CanaryPolicy`'s defaults.
    mutating func canary(_ node: Node, _ path: String, versions: DesiredState.VersionPolicy) -> CanaryPolicy? {
        guard let c = mapping(node, path, allowed: ["version", "splitPercent", "mirrorPercent", "mirrorTimeoutMs", "compare", "abort"]) else { return nil }
        guard let version = int(c["version"], "\(path).version", in: DesiredState.Limits.version) else {
            if c["version"] == nil { problem(node, "\(path).version", "name the candidate version (version: N)") }
            return nil
        }
        if case .specific(let listed) = versions, !listed.contains(where: { $0.number == version }) {
            problem(c["version"] ?? node, "\(path).version", "version \(version) is not among the model's versions (\(listed.map { String($0.number) }.joined(separator: ", ")))")
        }
        let split = c["splitPercent"].flatMap { double($0, "\(path).splitPercent") } ?? 0
        let mirror = c["mirrorPercent"].flatMap { double($0, "\(path).mirrorPercent") } ?? 0
        let timeout = c["mirrorTimeoutMs"].flatMap { int($0, "\(path).mirrorTimeoutMs", in: 1...DesiredState.Limits.milliseconds.upperBound) }
            ?? CanaryPolicy.defaultMirrorTimeoutMs
        var tolerance = CanaryPolicy.Tolerance()
        if let t = c["compare"], let tm = mapping(t, "\(path).compare", allowed: ["atol", "rtol"]) {
            tolerance.atol = tm["atol"].flatMap { double($0, "\(path).compare.atol") } ?? tolerance.atol
            tolerance.rtol = tm["rtol"].flatMap { double($0, "\(path).compare.rtol") } ?? tolerance.rtol
        }
        var abort = CanaryPolicy.AbortThresholds()
        if let a = c["abort"], let am = mapping(a, "\(path).abort", allowed: ["minSamples", "maxTop1DisagreePercent", "maxOutOfTolerancePercent", "maxErrorPercent"]) {
            abort.minSamples = am["minSamples"].flatMap { int($0, "\(path).abort.minSamples", in: CanaryPolicy.minSamplesRange) } ?? abort.minSamples
            abort.maxTop1DisagreePercent = am["maxTop1DisagreePercent"].flatMap { double($0, "\(path).abort.maxTop1DisagreePercent") } ?? abort.maxTop1DisagreePercent
            abort.maxOutOfTolerancePercent = am["maxOutOfTolerancePercent"].flatMap { double($0, "\(path).abort.maxOutOfTolerancePercent") } ?? abort.maxOutOfTolerancePercent
            abort.maxErrorPercent = am["maxErrorPercent"].flatMap { double($0, "\(path).abort.maxErrorPercent") } ?? abort.maxErrorPercent
        }
        if mirror == 0, c["compare"] != nil || c["abort"] != nil {
            problem(c["compare"] ?? c["abort"] ?? node, path, "compare and abort judge mirrored requests: set mirrorPercent above 0, or remove them")
        }
        do {
            return try CanaryPolicy(version: version, splitPercent: split, mirrorPercent: mirror, mirrorTimeoutMs: timeout, compare: tolerance, abort: abort)
        } catch {
            problem(node, path, error.message)
            return nil
        }
    }

    /// `logging: { samplePercent: 1, path: logs/ }`; `base` (the defaults') fills what the model leaves out.
    mutating func logging(_ node: Node, _ path: String, base: InferenceLogPolicy?) -> InferenceLogPolicy? {
        guard let l = mapping(node, path, allowed: ["samplePercent", "path"]) else { return nil }
        let percent = l["samplePercent"].flatMap { double($0, "\(path).samplePercent") } ?? base?.samplePercent ?? 1
        let directory = l["path"].flatMap { string($0, "\(path).path") } ?? base?.path ?? "logs"
        do {
            return try InferenceLogPolicy(samplePercent: percent, path: directory)
        } catch {
            problem(node, path, error.message)
            return nil
        }
    }

    mutating func batching(_ node: Node, _ path: String, base: BatchingPolicy) -> BatchingPolicy? {
        guard let b = mapping(node, path, allowed: ["maxBatchSize", "maxDelayMicros"]) else { return nil }
        let size = b["maxBatchSize"].flatMap { int($0, "\(path).maxBatchSize", in: DesiredState.Limits.batchSize) } ?? base.maxBatchSize
        let delay = b["maxDelayMicros"].flatMap { int($0, "\(path).maxDelayMicros", in: DesiredState.Limits.delayMicros) } ?? base.maxDelayMicros
        return try? BatchingPolicy(maxBatchSize: size, maxDelayMicros: delay)
    }

    // MARK: Typed readers, each recording a located problem on failure

    /// A mapping's entries by key, in file order; keys outside `allowed` (when given) are problems.
    mutating func mapping(_ node: Node, _ path: String, allowed: Set<String>?) -> [String: Node]? {
        guard case .mapping(let map) = node else {
            problem(node, path, "expected a mapping (key: value), found \(kind(node))")
            return nil
        }
        var result: [String: Node] = [:]
        for (key, value) in map {
            guard let name = key.string else { problem(key, path, "keys must be strings"); continue }
            if let allowed, !allowed.contains(name) {
                problem(key, path.isEmpty ? name : "\(path).\(name)", "unknown key '\(name)' (expected one of: \(allowed.sorted().joined(separator: ", ")))")
                continue
            }
            if result[name] != nil { problem(key, path, "key '\(name)' appears twice") }
            result[name] = value
        }
        return result
    }

    mutating func sequence(_ node: Node, _ path: String) -> [Node]? {
        guard case .sequence(let list) = node else {
            problem(node, path, "expected a list, found \(kind(node))")
            return nil
        }
        return Array(list)
    }

    mutating func string(_ node: Node?, _ path: String, required: Bool = false) -> String? {
        guard let node else {
            if required { problem(nil, path, "is required") }
            return nil
        }
        guard case .scalar(let scalar) = node, !scalar.string.isEmpty else {
            problem(node, path, "expected a non-empty string, found \(kind(node))")
            return nil
        }
        return scalar.string
    }

    /// A decimal integer within `range`. Yams' own integer reading accepts sexagesimal (`1:30:00`) and traps when
    /// that overflows, so the scalar text is read here: an optional sign and at most 18 digits (`_` separators
    /// allowed), nothing else.
    mutating func int(_ node: Node?, _ path: String, in range: ClosedRange<Int>) -> Int? {
        guard let node else { return nil }
        guard case .scalar(let scalar) = node, let value = Self.decimalInteger(scalar.string) else {
            problem(node, path, "expected an integer, found \(kind(node))")
            return nil
        }
        guard range.contains(value) else {
            problem(node, path, value < range.lowerBound ? "must be ≥ \(range.lowerBound), got \(value)" : "must be ≤ \(range.upperBound), got \(value)")
            return nil
        }
        return value
    }

    static func decimalInteger(_ text: String) -> Int? { YAMLPrecheck.decimalInteger(text) }

    /// A finite decimal number (`95`, `99.9`, `1e1`); `.nan`, `.inf` and hexadecimal forms are not numbers here.
    mutating func double(_ node: Node, _ path: String) -> Double? {
        guard case .scalar(let scalar) = node, let value = Self.decimalNumber(scalar.string) else {
            problem(node, path, "expected a number, found \(kind(node))")
            return nil
        }
        return value
    }

    static func decimalNumber(_ text: String) -> Double? {
        guard !text.isEmpty, text.utf8.count <= 40,
              text.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }),
              let value = Double(text), value.isFinite else { return nil }
        return value
    }

    private func kind(_ node: Node) -> String {
        switch node {
        case .scalar(let s): s.string.count > 60 ? "'\(s.string.prefix(60))…'" : "'\(s.string)'"
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        }
    }
}
