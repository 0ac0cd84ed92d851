"""Writes the Grafana dashboards of this folder (overview.json, workers.json, control-plane.json) from the panel
lists below, so that every panel has the same data source, variables and layout conventions.

    python3 Dashboards/generate.py            # rewrite the JSON files
    python3 Dashboards/generate.py --check    # exit 1 if a JSON file differs from what this script writes

Standard library only. Every query reads the metrics of docs/metrics.md (and the process metrics); the queries are
checked against a running Hedgerow by Scripts/check-observability.py.
"""
import argparse, json, os, sys

HERE = os.path.dirname(os.path.abspath(__file__))
DS = {"type": "prometheus", "uid": "${datasource}"}
RI = "$__rate_interval"
REQ = "hedgerow_router_request_duration_seconds"


def datasource_variable():
    return {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
            "current": {}, "hide": 0, "refresh": 1, "regex": "", "options": []}


def query_variable(name, label, metric, description):
    """A multi-value variable with All; All is sent as `.*`, so a model (or worker) not yet in the list still shows."""
    query = f"label_values({metric}, {name})"
    return {"name": name, "label": label, "description": description, "type": "query", "datasource": DS,
            "query": {"query": query, "refId": f"{name}-values"}, "definition": query,
            "multi": True, "includeAll": True, "allValue": ".*", "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
            "refresh": 2, "sort": 1, "regex": "", "hide": 0, "options": []}


def target(expr, legend, ref, fmt=None, instant=False):
    t = {"refId": ref, "datasource": DS, "expr": expr, "legendFormat": legend, "range": not instant, "instant": instant}
    if fmt:
        t["format"] = fmt
    return t


def panel(title, description, queries, unit="short", kind="timeseries", w=12, h=8, **extra):
    """queries: [(expr, legend)]; extra: min, max, decimals, thresholds, mappings, stack, fmt, instant, bars."""
    refs = "ABCDEFGH"
    p = {"type": kind, "title": title, "description": description, "datasource": DS,
         "targets": [target(e, l, refs[i], extra.get("fmt"), extra.get("instant", False)) for i, (e, l) in enumerate(queries)],
         "gridPos": {"w": w, "h": h}}
    defaults = {"unit": unit}
    for key in ("min", "max", "decimals"):
        if key in extra:
            defaults[key] = extra[key]
    if "thresholds" in extra:
        defaults["thresholds"] = {"mode": "absolute", "steps": [{"color": c, "value": v} for v, c in extra["thresholds"]]}
    if "mappings" in extra:
        defaults["mappings"] = extra["mappings"]
    if kind == "timeseries":
        defaults["custom"] = {"drawStyle": "bars" if extra.get("bars") else "line", "lineWidth": 1, "fillOpacity": 10,
                              "showPoints": "never", "spanNulls": False,
                              "stacking": {"mode": "normal" if extra.get("stack") else "none", "group": "A"}}
        if "thresholds" in extra:
            defaults["custom"]["thresholdsStyle"] = {"mode": "line"}
        p["options"] = {"legend": {"displayMode": "table", "placement": "right", "showLegend": True, "calcs": ["lastNotNull", "max"]},
                        "tooltip": {"mode": "multi", "sort": "desc"}}
    elif kind == "stat":
        p["options"] = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                        "colorMode": "background", "graphMode": "none", "justifyMode": "auto", "textMode": "auto", "orientation": "auto"}
    elif kind == "heatmap":
        p["options"] = {"calculate": False, "yAxis": {"axisPlacement": "left", "unit": unit},
                        "cellGap": 1, "color": {"mode": "scheme", "scheme": "Oranges", "steps": 64, "exponent": 0.5},
                        "rowsFrame": {"layout": "auto"}, "tooltip": {"show": True, "yHistogram": True},
                        "legend": {"show": True}}
    elif kind == "table":
        p["options"] = {"showHeader": True, "cellHeight": "sm"}
        p["transformations"] = [{"id": "organize", "options": {"excludeByName": {"Time": True}}}]
    p["fieldConfig"] = {"defaults": defaults, "overrides": []}
    return p


def row(title):
    return {"type": "row", "title": title, "collapsed": False, "panels": []}


def layout(items):
    """Rows span the width; panels flow left to right and wrap at 24 columns."""
    out, x, y, line_h, next_id = [], 0, 0, 0, 1
    for item in items:
        item = dict(item)
        item["id"] = next_id
        next_id += 1
        if item["type"] == "row":
            if x:
                y += line_h
            x, line_h = 0, 0
            item["gridPos"] = {"h": 1, "w": 24, "x": 0, "y": y}
            y += 1
        else:
            w, h = item["gridPos"]["w"], item["gridPos"]["h"]
            if x + w > 24:
                x, y, line_h = 0, y + line_h, 0
            item["gridPos"] = {"h": h, "w": w, "x": x, "y": y}
            x += w
            line_h = max(line_h, h)
        out.append(item)
    return out


def dashboard(uid, title, description, variables, items):
    return {
        "uid": uid, "title": title, "description": description, "tags": ["hedgerow"],
        "editable": True, "graphTooltip": 1, "timezone": "", "refresh": "30s", "schemaVersion": 39, "version": 1,
        "time": {"from": "now-1h", "to": "now"}, "timepicker": {},
        "templating": {"list": variables},
        "annotations": {"list": [{"builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"}, "enable": True,
                                  "hide": True, "iconColor": "rgba(0, 211, 255, 1)", "name": "Annotations & Alerts", "type": "dashboard"}]},
        "links": [{"title": "Hedgerow", "type": "dashboards", "tags": ["hedgerow"], "asDropdown": False,
                   "includeVars": False, "keepTime": True, "targetBlank": False, "icon": "external link"}],
        "panels": layout(items),
    }


def quantile(q, metric, by, selector):
    return f"histogram_quantile({q}, sum by (le, {by}) (rate({metric}_bucket{{{selector}}}[{RI}])))"


def overview():
    m = 'model=~"$model"'
    served = f'{m}, code!~"4.."'
    requests = f"sum by (model) (rate({REQ}_count{{{m}}}[{RI}]))"
    items = [
        row("Traffic"),
        panel("Requests per second by model", "Every request of a model route the router answered, any code.",
              [(requests, "{{model}}")], "reqps"),
        panel("Errors per second by model and code", "Answers other than 2xx. 400: a malformed body or wrong shape; "
              "404: unknown model, version or label (`(unknown)` is a model the routing table does not know); "
              "503: no replica could answer or the model hit --max-in-flight-per-model; 504: the deadline passed.",
              [(f'sum by (model, code) (rate({REQ}_count{{{m}, code!~"2.."}}[{RI}]))', "{{model}} {{code}}")], "reqps"),
        panel("Server errors (5xx ÷ requests)", "Share of requests answered 5xx; 0 when there are none.",
              [(f'(sum by (model) (rate({REQ}_count{{{m}, code=~"5.."}}[{RI}])) or 0 * {requests}) / {requests}', "{{model}}")],
              "percentunit", min=0, thresholds=[(None, "green"), (0.01, "red")]),
        panel("Requests in flight by model", "Requests each router holds now, summed over routers; the router sheds "
              "a model's requests with 503 above --max-in-flight-per-model (1024 by default) per router.",
              [('sum by (model) (hedgerow_router_requests_in_flight{' + m + '})', "{{model}}")], "short", min=0),
        row("Latency"),
        panel("Latency p50 and p95 by model", "Router time from a request's arrival to its answer, 4xx excluded "
              "(they are answered without inference).",
              [(quantile(0.5, REQ, "model", served), "{{model}} p50"), (quantile(0.95, REQ, "model", served), "{{model}} p95")], "s"),
        panel("Latency p99 and p99.9 by model", "The tail hedging protects. The alert HedgerowP99OverTarget compares "
              "p99 over 5 minutes with each model's target (Deploy/prometheus/alerts.yml).",
              [(quantile(0.99, REQ, "model", served), "{{model}} p99"), (quantile(0.999, REQ, "model", served), "{{model}} p99.9")], "s"),
        panel("Attempt latency p99 by kind", "Each upstream attempt by kind: primary, hedge (the backup sent after the "
              "hedge delay) and retry. Reset losers are not counted. A hedge p99 far below the primary one means "
              "hedges keep the tail down.",
              [(quantile(0.99, "hedgerow_router_attempt_duration_seconds", "model, attempt", m), "{{model}} {{attempt}}")], "s"),
        panel("Upstream latency per replica (p50, p99)", "The same attempts per worker replica (host:port), all "
              "models: one replica far above the others is slow or overloaded (see the Workers dashboard).",
              [(quantile(0.5, "hedgerow_router_upstream_duration_seconds", "replica", ""), "{{replica}} p50"),
               (quantile(0.99, "hedgerow_router_upstream_duration_seconds", "replica", ""), "{{replica}} p99")], "s"),
        row("Hedging"),
        panel("Hedge rate (hedges ÷ requests)", "Backups sent because the hedge delay passed without an answer. "
              "It stays under the model's budgetPercent (5 % by default, plus one a second).",
              [(f"sum by (model) (rate(hedgerow_router_hedges_total{{{m}}}[{RI}])) / {requests}", "{{model}}")],
              "percentunit", min=0, w=8),
        panel("Hedge win rate (wins ÷ hedges)", "Backups that answered first. A low share with a high hedge rate: "
              "the delay is too short (raise the model's hedging percentile or minDelayMs).",
              [(f"sum by (model) (rate(hedgerow_router_hedge_wins_total{{{m}}}[{RI}])) / "
                f"sum by (model) (rate(hedgerow_router_hedges_total{{{m}}}[{RI}]))", "{{model}}")],
              "percentunit", min=0, max=1, w=8),
        panel("Hedge delay in force", "The model's latency percentile over its last second of requests, clamped to "
              "minDelayMs/maxDelayMs, per router.",
              [(f"max by (model, instance) (hedgerow_router_hedge_delay_seconds{{{m}}})", "{{model}} {{instance}}")], "s", w=8),
        panel("Budget refusals per second", "Backups (hedge) and 503 retries (retry) the budget refused. Rising "
              "steadily: the budget is spent and the tail is unprotected (alert HedgerowHedgeBudgetExhausted).",
              [(f"sum by (model) (rate(hedgerow_router_hedge_budget_refusals_total{{{m}}}[{RI}]))", "{{model}} hedge"),
               (f"sum by (model) (rate(hedgerow_router_retry_budget_refusals_total{{{m}}}[{RI}]))", "{{model}} retry")], "reqps", w=8),
        panel("Retries per second by reason", "connect, refused, not_loaded: free (nothing ran). connection_lost, "
              "reset: at most once per request; connection_lost rising means workers die holding requests. "
              "unavailable (a 503) is paid from the budget.",
              [(f"sum by (model, reason) (rate(hedgerow_router_retries_total{{{m}}}[{RI}]))", "{{model}} {{reason}}")], "reqps", w=8),
        panel("Losing attempts cancelled per second", "Attempts reset (RST_STREAM) after another answered; about "
              "equal to hedge wins.",
              [(f"sum by (model) (rate(hedgerow_router_cancelled_attempts_total{{{m}}}[{RI}]))", "{{model}}")], "reqps", w=8),
        row("Protection"),
        panel("Shed by the router per second", "Requests refused with 503 because the model had "
              "--max-in-flight-per-model requests in flight on the router. Any sustained rate: add replicas or raise the limit.",
              [(f"sum by (model) (rate(hedgerow_router_shed_total{{{m}}}[{RI}]))", "{{model}}")], "reqps", w=6),
        panel("Ejected replicas by model", "Replicas the outlier detector left out of the model's pool (5 failures in "
              "a row or a refused connection) at the last request; they return when /v2/health/ready answers.",
              [(f"max by (model) (hedgerow_router_ejected_replicas{{{m}}})", "{{model}}")], "short", min=0, decimals=0, w=6,
              thresholds=[(None, "green"), (1, "red")]),
        panel("Ejections per replica", "Times the outlier detector took a replica out of service. Any: that worker is "
              "failing (logs: hedgerow up's log folder, or the worker's).",
              [(f"sum by (replica) (increase(hedgerow_router_ejections_total[{RI}]))", "{{replica}}")], "short", min=0, w=6, bars=True),
        panel("Suspected queries of death per second", "poison: requests failed because two attempts lost the "
              "connection after sending (the router logs the fingerprint). quarantined: requests refused because "
              "their fingerprint is quarantined (clients retrying a poison request).",
              [(f"sum by (model) (rate(hedgerow_router_poison_requests_total{{{m}}}[{RI}]))", "{{model}} poison"),
               (f"sum by (model) (rate(hedgerow_router_quarantined_refusals_total{{{m}}}[{RI}]))", "{{model}} quarantined")], "reqps", w=6),
    ]
    return dashboard("hedgerow-overview", "Hedgerow / Overview",
                     "What clients get: traffic, errors, latency quantiles, hedging and the router's protections.",
                     [datasource_variable(),
                      query_variable("model", "Model", f"{REQ}_count", "Models the router has answered requests for.")], items)


WORKER = "max by (instance, role) (hedgerow_build_info{role=\"worker\"})"


def workers():
    w = 'model=~"$model", instance=~"$instance"'
    i = 'instance=~"$instance"'
    inf = "hedgerow_worker_inference_duration_seconds"
    items = [
        row("Inference"),
        panel("Requests per second by worker and model", "Inference requests each worker received (primary and backup).",
              [(f"sum by (instance, model) (rate(hedgerow_worker_requests_total{{{w}}}[{RI}]))", "{{instance}} {{model}}")], "reqps"),
        panel("Inference time by model and version (p50, p99)", "One run of the graph: one batch, which may hold "
              "several requests; it grows with batch size.",
              [(quantile(0.5, inf, "model, version", w), "{{model}} v{{version}} p50"),
               (quantile(0.99, inf, "model, version", w), "{{model}} v{{version}} p99")], "s"),
        panel("Mean inference time by worker", "Mean run time per worker, model and version: one worker far above "
              "the others is starved of CPU.",
              [(f"sum by (instance, model, version) (rate({inf}_sum{{{w}}}[{RI}])) / "
                f"sum by (instance, model, version) (rate({inf}_count{{{w}}}[{RI}]))", "{{instance}} {{model}} v{{version}}")], "s"),
        panel("Batch size distribution", "Rows per run of the graph (buckets 1, 2, 4 … 128), all selected models "
              "and workers. Mostly 1 under light load; larger as load rises or with batching.maxDelayMicros.",
              [(f"sum by (le) (increase(hedgerow_worker_batch_size_bucket{{{w}}}[{RI}]))", "{{le}}")], "short",
              kind="heatmap", fmt="heatmap"),
        panel("Mean batch size by model", "Rows per run of the graph, averaged.",
              [(f"sum by (model) (rate(hedgerow_worker_batch_size_sum{{{w}}}[{RI}])) / "
                f"sum by (model) (rate(hedgerow_worker_batch_size_count{{{w}}}[{RI}]))", "{{model}}")], "short", min=0),
        panel("Backup share per worker (backup ÷ all requests)", "Requests that were a router's hedge or retry "
              "(hedgerow-attempt > 1). One worker with a much higher share serves the others' slow requests.",
              [(f'sum by (instance) (rate(hedgerow_worker_requests_total{{{w}, attempt="backup"}}[{RI}])) / '
                f"sum by (instance) (rate(hedgerow_worker_requests_total{{{w}}}[{RI}]))", "{{instance}}")], "percentunit", min=0),
        row("Queueing and shedding"),
        panel("Queue depth", "Requests waiting for an inference thread. Growing without bound: the worker is past capacity.",
              [(f"sum by (instance, model) (hedgerow_worker_queue_depth{{{w}}})", "{{instance}} {{model}}")], "short", min=0, w=8),
        panel("Shed by workers per second", "Requests refused with 503 because requests waited over "
              "--max-queue-delay-ms (100 by default) for a thread. Any sustained rate: the pool is too small for the load.",
              [(f"sum by (instance, model) (rate(hedgerow_worker_shed_total{{{w}}}[{RI}]))", "{{instance}} {{model}}")], "reqps", w=8),
        panel("Cancelled before running per second", "Requests dropped before they ran because the router (its hedge "
              "won) or the client reset the stream: about the hedge wins that reached this worker.",
              [(f"sum by (instance, model) (rate(hedgerow_worker_cancelled_total{{{w}}}[{RI}]))", "{{instance}} {{model}}")], "reqps", w=8),
        row("Models"),
        panel("Model versions loaded per worker", "Versions each worker holds AVAILABLE. 0 on a worker that should "
              "serve: it restarted and was not given its models again, or its loads fail (hedgerow status).",
              [(f"max by (instance) (hedgerow_worker_models_loaded{{{i}}})", "{{instance}}")], "short", min=0, decimals=0, w=8),
        panel("Mean load time by model and worker", "Parse, plan and warm-up of the loads that became AVAILABLE since "
              "each worker started. Slow loads delay rollouts and recovery after a restart.",
              [(f"sum by (instance, model) (hedgerow_worker_load_duration_seconds_sum{{{w}}}) / "
                f"sum by (instance, model) (hedgerow_worker_load_duration_seconds_count{{{w}}})", "{{instance}} {{model}}")], "s", w=8),
        panel("Loads since each worker started", "Versions that became AVAILABLE, per worker and model; a rising "
              "count without YAML edits means the worker restarts.",
              [(f"sum by (instance, model) (hedgerow_worker_load_duration_seconds_count{{{w}}})", "{{instance}} {{model}}")],
              "short", min=0, decimals=0, w=8),
        row("Processes"),
        panel("CPU per worker", "CPU seconds per second (1 = one core busy).",
              [(f"sum by (instance) (rate(process_cpu_seconds_total{{{i}}}[{RI}]) * on (instance) group_left (role) {WORKER})",
                "{{instance}}")], "short", min=0, w=8),
        panel("Resident memory per worker", "RSS of each worker process; it steps with each model loaded or unloaded.",
              [(f"sum by (instance) (process_resident_memory_bytes{{{i}}} * on (instance) group_left (role) {WORKER})",
                "{{instance}}")], "bytes", min=0, w=8),
        panel("Open file descriptors per worker", "Open descriptors against the limit (max).",
              [(f"sum by (instance) (process_open_fds{{{i}}} * on (instance) group_left (role) {WORKER})", "{{instance}} open"),
               (f"sum by (instance) (process_max_fds{{{i}}} * on (instance) group_left (role) {WORKER})", "{{instance}} max")],
              "short", min=0, w=8),
    ]
    return dashboard("hedgerow-workers", "Hedgerow / Workers",
                     "What each worker does: inference time, batching, queueing, shedding, loads, CPU and memory.",
                     [datasource_variable(),
                      query_variable("model", "Model", "hedgerow_worker_queue_depth", "Models loaded on some worker."),
                      query_variable("instance", "Worker", "hedgerow_worker_models_loaded", "Workers (scrape address).")], items)


def control_plane():
    m = 'model=~"$model"'
    sync_gen = "max (hedgerow_sync_generation)"
    router_gen = "max by (instance) (hedgerow_router_routing_generation)"
    items = [
        row("Replicas"),
        panel("Desired vs ready replicas by model version", "desired: what the desired state asks for; ready: loaded, "
              "AVAILABLE and in the routing table. Ready below desired for 2 minutes fires HedgerowReplicasBelowDesired.",
              [(f"sum by (model, version) (hedgerow_sync_desired_replicas{{{m}}})", "{{model}} v{{version}} desired"),
               (f"sum by (model, version) (hedgerow_sync_ready_replicas{{{m}}})", "{{model}} v{{version}} ready")],
              "short", min=0, decimals=0),
        panel("Replicas missing (desired − ready)", "0 when every version has all its replicas; `hedgerow status` "
              "says why one is missing.",
              [(f"sum by (model, version) (hedgerow_sync_desired_replicas{{{m}}}) - "
                f"sum by (model, version) (hedgerow_sync_ready_replicas{{{m}}})", "{{model}} v{{version}}")],
              "short", decimals=0, thresholds=[(None, "green"), (1, "red")]),
        panel("Unplaced replicas (placement problems)", "Replicas the planner could not place: no worker with room, "
              "a zone spread or a pin it cannot meet. `hedgerow status` names the problem.",
              [(f"sum by (model, version) (hedgerow_sync_unplaced_replicas{{{m}}})", "{{model}} v{{version}}")],
              "short", min=0, decimals=0, thresholds=[(None, "green"), (1, "red")]),
        panel("Versions poisoned now", "Versions marked poisoned because loading them took a worker down; they are "
              "placed nowhere until their files change or `hedgerow clear-poison MODEL VERSION`.",
              [(f"sum by (model) (hedgerow_sync_versions_poisoned{{{m}}})", "{{model}}")],
              "short", min=0, decimals=0, thresholds=[(None, "green"), (1, "red")]),
        row("Desired state"),
        panel("Desired-state file", "REFUSED while the file on disk does not parse or validate: the last good state "
              "stays in force. `hedgerow status` shows the error with file and line.",
              [("max (hedgerow_sync_config_refused)", "")], "none", kind="stat", w=6, h=6,
              thresholds=[(None, "green"), (1, "red")],
              mappings=[{"type": "value", "options": {"0": {"text": "accepted", "color": "green", "index": 0},
                                                      "1": {"text": "REFUSED", "color": "red", "index": 1}}}]),
        panel("Refused edits", "Desired-state edits refused (each increase is one edit that did not parse or validate).",
              [(f"sum (increase(hedgerow_sync_config_errors_total[{RI}]))", "refused edits")], "short", min=0, w=12, h=6, bars=True),
        panel("Refused edits since the synchronizer started", "The counter itself.",
              [("sum (hedgerow_sync_config_errors_total)", "")], "short", kind="stat", w=6, h=6, decimals=0,
              thresholds=[(None, "green"), (1, "orange")]),
        row("Routing"),
        panel("Routing generation: routers and the synchronizer", "The generation of the routing table each router "
              "serves, and the one the synchronizer publishes (it starts at the synchronizer's start time in "
              "milliseconds and counts up by one per change).",
              [(router_gen, "router {{instance}}"), (sync_gen, "synchronizer")], "none", decimals=0),
        panel("Generations behind the synchronizer, per router", "0: the router serves the current table. Above 0 "
              "for minutes (alert HedgerowRouterBehind): the router cannot reach the synchronizer and serves its "
              "last table.",
              [(f"{sync_gen} - on () group_right () {router_gen}", "{{instance}}")], "short", decimals=0, w=8,
              thresholds=[(None, "green"), (1, "red")]),
        panel("Routers behind", "Routers whose generation is below the synchronizer's.",
              [(f"sum ({router_gen} < bool on () group_left () {sync_gen})", "")], "short", kind="stat", decimals=0, w=4,
              thresholds=[(None, "green"), (1, "red")]),
        row("Workers and processes"),
        panel("Workers known to the synchronizer", "alive: heartbeating; dead: stopped heartbeating (alert "
              "HedgerowWorkerDead). `hedgerow up` restarts a dead worker; elsewhere, restart it.",
              [("sum by (state) (hedgerow_sync_workers)", "{{state}}")], "short", min=0, decimals=0, w=12),
        panel("Processes by role and version", "Every Hedgerow process Prometheus scrapes, by role and build "
              "version: two versions of a role mean a rollout is in progress (or stuck).",
              [("count by (role, version) (hedgerow_build_info)", "")], "short", kind="table", w=12, instant=True, fmt="table"),
    ]
    return dashboard("hedgerow-control-plane", "Hedgerow / Control plane",
                     "The synchronizer's view: desired vs ready replicas, placement, the desired-state file, routing "
                     "generations and workers.",
                     [datasource_variable(),
                      query_variable("model", "Model", f"{REQ}_count", "Models the router has answered requests for; "
                                     "All also shows models without traffic.")], items)


DASHBOARDS = {"overview.json": overview, "workers.json": workers, "control-plane.json": control_plane}


def render(build):
    return json.dumps(build(), indent=1, ensure_ascii=False) + "\n"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--check", action="store_true", help="exit 1 if a file differs from what would be written")
    a = parser.parse_args()
    stale = []
    for name, build in DASHBOARDS.items():
        path = os.path.join(HERE, name)
        text = render(build)
        current = open(path, encoding="utf-8").read() if os.path.exists(path) else None
        if a.check:
            if current != text:
                stale.append(name)
        elif current != text:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            print(f"wrote {path}")
    if stale:
        print("out of date (run python3 Dashboards/generate.py): " + ", ".join(stale))
        sys.exit(1)


if __name__ == "__main__":
    main()
