/// Every metric name Hedgerow exports, in one place; Dashboards/ is built on exactly these.
public enum MetricNames {
    // Every process
    /// 1, labelled with the build's `version` and the process's `role` (router, worker, synchronizer). Beside it,
    /// the standard `process_*` metrics (`ProcessMetrics`).
    public static let buildInfo = "hedgerow_build_info"
    // Router
    public static let routerRequestDuration = "hedgerow_router_request_duration_seconds"
    public static let routerHedges = "hedgerow_router_hedges_total"
    public static let routerHedgeWins = "hedgerow_router_hedge_wins_total"
    public static let routerHedgeDelay = "hedgerow_router_hedge_delay_seconds"
    /// Backups the hedge budget refused (the delay passed, a replica was free, but the budget was spent).
    public static let routerHedgeBudgetRefusals = "hedgerow_router_hedge_budget_refusals_total"
    /// Losing attempts reset (RST_STREAM) after another attempt answered.
    public static let routerCancelledAttempts = "hedgerow_router_cancelled_attempts_total"
    /// Retries by `reason`: connect, refused, not_loaded (free: the replica never processed the request),
    /// connection_lost, reset (at most once per request: the replica may have died of it) or unavailable (a 503,
    /// paid from the hedge budget).
    public static let routerRetries = "hedgerow_router_retries_total"
    /// 503 retries the budget refused.
    public static let routerRetryBudgetRefusals = "hedgerow_router_retry_budget_refusals_total"
    /// Every attempt that got an answer or failed (cancelled losers excluded), by `attempt`: primary, hedge, retry.
    public static let routerAttemptDuration = "hedgerow_router_attempt_duration_seconds"
    /// Replicas taken out of service by the outlier detector, per `replica`.
    public static let routerEjections = "hedgerow_router_ejections_total"
    /// Replicas of a model currently left out of its pool (ejected), per `model`.
    public static let routerEjectedReplicas = "hedgerow_router_ejected_replicas"
    /// Requests the per-model in-flight bound turned away with 503.
    public static let routerShed = "hedgerow_router_shed_total"
    /// Requests failed because two of their attempts lost the connection after sending (suspected queries of
    /// death), per `model`; each is logged with its fingerprint.
    public static let routerPoisonRequests = "hedgerow_router_poison_requests_total"
    /// Requests refused at once because their fingerprint is quarantined, per `model`.
    public static let routerQuarantinedRefusals = "hedgerow_router_quarantined_refusals_total"
    public static let routerUpstreamDuration = "hedgerow_router_upstream_duration_seconds"
    /// Inference requests of a `model` this router holds now (admitted against `--max-in-flight-per-model`).
    public static let routerRequestsInFlight = "hedgerow_router_requests_in_flight"
    /// Sampled inference records written to the model's log file, per `model`.
    public static let routerInferenceLogRecords = "hedgerow_router_inference_log_records_total"
    /// Sampled inference records not written, per `model` and `reason`: queue_full (the disk is slower than the
    /// sampled traffic) or write_error (unwritable path, full disk). Requests are never affected.
    public static let routerInferenceLogDropped = "hedgerow_router_inference_log_dropped_total"
    /// Requests naming no version of a model with a canary, by the `version` the split sent them to.
    public static let routerCanarySplitRequests = "hedgerow_router_canary_split_requests_total"
    /// Requests stable answered that were mirrored to a canary `candidate`, by `result`: sent, or shed (the model's
    /// in-flight bound or the comparison queue was full).
    public static let routerCanaryMirrors = "hedgerow_router_canary_mirrors_total"
    /// Mirrored answers compared with stable's, per `model`, `candidate` and `result`: agree, out_of_tolerance,
    /// top1_disagree, error (the candidate answered an error), incomparable (other outputs or shapes), no_answer
    /// (past the mirror's deadline or shed by a busy worker: not a sample).
    public static let routerCanaryComparisons = "hedgerow_router_canary_comparisons_total"
    /// Largest absolute difference of any output element per compared request, per `model` and `candidate`.
    public static let routerCanaryMaxAbsDifference = "hedgerow_router_canary_max_abs_difference"
    /// How long the candidate took to answer a mirror, per `model` and `candidate`.
    public static let routerCanaryMirrorDuration = "hedgerow_router_canary_mirror_duration_seconds"
    public static let routerRoutingGeneration = "hedgerow_router_routing_generation"
    // Worker
    public static let workerInferenceDuration = "hedgerow_worker_inference_duration_seconds"
    public static let workerBatchSize = "hedgerow_worker_batch_size"
    public static let workerQueueDepth = "hedgerow_worker_queue_depth"
    /// Model versions this worker holds AVAILABLE (loaded and serving).
    public static let workerModelsLoaded = "hedgerow_worker_models_loaded"
    /// Time to load a version that became AVAILABLE (parse, plan, warm-up), per `model`.
    public static let workerLoadDuration = "hedgerow_worker_load_duration_seconds"
    /// Golden-output checks of versions after load, by `model`, `version` and `result`: passed, failed (the version
    /// is FAILED and never serves) or skipped (no reference.json).
    public static let workerValidations = "hedgerow_worker_validation_total"
    /// Time of a version's golden-output check (which is also its warm-up), per `model`.
    public static let workerValidationDuration = "hedgerow_worker_validation_duration_seconds"
    /// Inference requests received, by `attempt`: "primary", "backup" for a router's hedge or retry, or "shadow"
    /// for a copy mirrored to a canary (queued behind served requests).
    public static let workerRequests = "hedgerow_worker_requests_total"
    /// Requests dropped before they ran because the client (or a router that lost interest) reset the stream.
    public static let workerCancelled = "hedgerow_worker_cancelled_total"
    /// Inference requests refused with 503 because requests waited over `--max-queue-delay-ms` for a thread.
    public static let workerShed = "hedgerow_worker_shed_total"
    /// Requests mirrored to a canary refused because `ShadowLane` already held its bound of them, per `model`.
    public static let workerShadowsShed = "hedgerow_worker_shadows_shed_total"
    /// A sharded entry's lookups: time from the first attempt to the winning answer, per `model` and `shard`.
    public static let workerLookupDuration = "hedgerow_worker_lookup_duration_seconds"
    /// Lookups sent to a second replica of a shard, per `model`, `shard` and `reason` ("hedge" after the shard's
    /// hedge delay, "retry" after a refused connection or a failed answer).
    public static let workerLookupBackups = "hedgerow_worker_lookup_backups_total"
    /// Distinct ids in one lookup to one shard (all its tables), per `model`.
    public static let workerLookupIDs = "hedgerow_worker_lookup_ids"
    /// Lookups failed for good (every replica of the shard down or refusing), per `model` and `shard`.
    public static let workerLookupFailures = "hedgerow_worker_lookup_failures_total"
    /// Lookups a PS part answered 409 because they named other content (a rollout's two versions), per `model`.
    public static let workerLookupDigestMismatches = "hedgerow_worker_lookup_digest_mismatches_total"
    /// Rows a PS part sent back, per `model` (the part's name, `<model>.ps-<k>`).
    public static let workerRowsServed = "hedgerow_worker_rows_served_total"
    // Synchronizer
    /// Replicas the desired state asks for, per `model` and `version` (of the versions the plan places).
    public static let syncDesiredReplicas = "hedgerow_sync_desired_replicas"
    /// Replicas loaded, AVAILABLE and in the routing table, per `model` and `version`.
    public static let syncReadyReplicas = "hedgerow_sync_ready_replicas"
    /// Replicas the planner could not place (no worker with room, zone or pin unmet), per `model` and `version`.
    public static let syncUnplacedReplicas = "hedgerow_sync_unplaced_replicas"
    /// Workers the synchronizer knows, by `state`: alive (heartbeating) or dead.
    public static let syncWorkers = "hedgerow_sync_workers"
    /// 1 while the desired-state file on disk is refused (an older valid state is in force), else 0.
    public static let syncConfigRefused = "hedgerow_sync_config_refused"
    public static let syncConfigErrors = "hedgerow_sync_config_errors_total"
    public static let syncGeneration = "hedgerow_sync_generation"
    /// How long each reconcile round took (observe every worker, plan, act, publish), seconds: a histogram.
    public static let syncRoundDuration = "hedgerow_sync_round_duration_seconds"
    /// Model versions marked poisoned because loading them took a worker down, per `model`.
    public static let syncPoisonedVersions = "hedgerow_sync_poisoned_versions_total"
    /// Versions of a `model` poisoned now (placed nowhere until their files change or `clear-poison`).
    public static let syncVersionsPoisoned = "hedgerow_sync_versions_poisoned"
    /// 1 for each canary in the desired state in its current `state` (running or aborted), per `model` and
    /// `candidate`; the other state's series is 0. Gone when the canary block is removed.
    public static let syncCanaryState = "hedgerow_sync_canary_state"
}
