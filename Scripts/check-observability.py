"""Checks Dashboards/ and Deploy/prometheus/ against a running Hedgerow: every PromQL expression of every dashboard
panel and every rule must be accepted by Prometheus, every panel query must return data, and every metric they
name must be one Hedgerow (or Prometheus) exports.

    python3 Scripts/check-observability.py --binary .build/debug/hedgerow      # make test

Steps (every wait bounded in time, every process it starts stopped at the end, also on failure and Ctrl-C):
  1. promtool check config / check rules on the committed files; Dashboards/generate.py --check; a static lint of
     the dashboards (data source variable, model variable, $__rate_interval in rates).
  2. A copy of --binary runs `up --workers 2` on free loopback ports, serving the four example models.
  3. Steady load (with some bad requests, so error codes exist) runs through the router until the end.
  4. Prometheus runs with a config derived from Deploy/prometheus/prometheus.yml (same jobs and rule files, this
     run's targets, 1 s intervals) and a scratch TSDB.
  5. An event dashboards must show: one refused desired-state edit (then the file is restored).
  6. After 20 s of samples, each panel query is evaluated twice, with the template variables set to All (`.*`) and
     to the explicit list of their values (`(a|b)`, Grafana's form when every value is picked); each rule query
     once. Each must evaluate; panel and recording-rule queries must return at least one series; every metric
     name must be in Prometheus' scraped names (every Hedgerow counter is exported at 0 before its first event, so
     none may be missing; EVENT_ONLY below is where an exception would have to be declared and explained). Rules must be healthy in
     Prometheus and alerts must have summary and description annotations. The desired-state alert's expression
     must hold while the file was refused (and not after), and the dashboards' count of refused edits must show
     the refused edit.
  7. Scripts/check-dashboard-page.py opens /dashboard in headless Chromium while the load still runs (its screenshot
     is kept, --screenshot).

Needs `prometheus` and `promtool` (Debian: apt-get install prometheus); standard library only.
"""
import argparse, ctypes, http.client, importlib.util, json, os, random, re, shutil, signal, socket, subprocess, sys
import tempfile, threading, time, urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROM_CONFIG = os.path.join(ROOT, "Deploy", "prometheus", "prometheus.yml")
RULES = os.path.join(ROOT, "Deploy", "prometheus", "alerts.yml")
DASHBOARDS = [os.path.join(ROOT, "Dashboards", n) for n in ("overview.json", "workers.json", "control-plane.json")]
METRIC_NAMES_SWIFT = os.path.join(ROOT, "Sources", "HedgerowMetrics", "MetricNames.swift")
PAGE_CHECK = os.path.join(ROOT, "Scripts", "check-dashboard-page.py")
MODELS = ["digits", "digits-cnn", "encoder", "recommender"]
JOBS = ("hedgerow-router", "hedgerow-synchronizer", "hedgerow-workers")

# Metrics whose series exist only in a state this run does not create; every counter is otherwise exported at 0
# before its first event, so that the first one is an increase. Anything missing and not listed here fails.
EVENT_ONLY = {
    # One series per canary of the desired state (its labels name the candidate); the example desired state has
    # none. Tests/HedgerowIntegrationTests/CanaryMirrorTests.swift checks it with a real canary.
    "hedgerow_sync_canary_state": "only while the desired state holds a canary block",
}

PROMQL_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
                   "offset", "inf", "nan", "atan2", "start", "end"}


# ---------------------------------------------------------------------------------------------------------- helpers

class Failures:
    def __init__(self):
        self.items = []

    def add(self, where, expr, why):
        self.items.append((where, expr, why))
        print(f"  FAIL {where}: {why}" + (f"\n       expr: {one_line(expr)}" if expr else ""), flush=True)


def one_line(text):
    return " ".join(text.split())


def log(msg):
    print(f"check-observability: {msg}", flush=True)


def free_port(taken, span=1):
    """A loopback port (and the span-1 after it) that binds now and is not in `taken`; bounded tries."""
    for _ in range(200):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        ports = range(port, port + span)
        if any(p in taken or p > 65535 for p in ports):
            continue
        ok = True
        for p in ports[1:]:
            t = socket.socket()
            try:
                t.bind(("127.0.0.1", p))
            except OSError:
                ok = False
            finally:
                t.close()
        if ok:
            taken.update(ports)
            return port
    raise SystemExit("check-observability: no free loopback port found")


try:
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):
    _prctl = None


def die_with_parent():
    """preexec_fn: the child gets SIGTERM if this script dies without cleaning up (Linux prctl PR_SET_PDEATHSIG)."""
    if _prctl:
        _prctl(1, signal.SIGTERM)


def http_get(port, path, timeout=5):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read().decode("utf-8", "replace")
    finally:
        conn.close()


def scrape_value(port, name):
    """Sum of the samples of `name` (no suffix matching) in a process' /metrics, or None if it has none."""
    try:
        status, text = http_get(port, "/metrics")
    except (OSError, http.client.HTTPException):
        return None
    if status != 200:
        return None
    total, seen = 0.0, False
    for line in text.splitlines():
        if line.startswith(name) and (line[len(name):len(name) + 1] in ("{", " ")):
            try:
                total += float(line.rsplit(" ", 1)[1])
                seen = True
            except ValueError:
                pass
    return total if seen else None


class Prometheus:
    def __init__(self, port):
        self.port = port

    def api(self, path, params=None, timeout=15):
        body = urllib.parse.urlencode(params or {}, doseq=True)
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            if params is not None:
                conn.request("POST", path, body=body, headers={"content-type": "application/x-www-form-urlencoded"})
            else:
                conn.request("GET", path)
            r = conn.getresponse()
            text = r.read().decode("utf-8", "replace")
        finally:
            conn.close()
        try:
            return json.loads(text)
        except ValueError:
            return {"status": "error", "error": f"HTTP {r.status}: {text[:200]}"}

    def query(self, expr, at):
        return self.api("/api/v1/query", {"query": expr, "time": f"{at:.3f}"})


# ---------------------------------------------------------------------------------------------- PromQL and Grafana

def metric_names(expr):
    """Metric names a PromQL expression selects (identifiers that are not functions, keywords or label lists)."""
    s = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    s = re.sub(r"\{[^}]*\}", " ", s)
    s = re.sub(r"\[[^\]]*\]", " ", s)
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*|[0-9][A-Za-z0-9_.]*", s):
        token = m.group(0)
        if token[0].isdigit() or token.lower() in PROMQL_KEYWORDS:
            continue
        rest = s[m.end():].lstrip()
        if rest.startswith("("):
            continue
        names.add(token)
    return names


def grafana_regex_escape(value):
    """What Grafana's Prometheus data source does to each value of a multi-value variable used in =~."""
    return re.sub(r"[$^*{}\[\]'+?.()|\\]", lambda m: "\\\\" + m.group(0), value)


BUILTINS = [(r"\$\{__rate_interval\}|\$__rate_interval\b", None), (r"\$\{__interval_ms\}|\$__interval_ms\b", "2000"),
            (r"\$\{__interval\}|\$__interval\b", "2s"), (r"\$\{__range_ms\}|\$__range_ms\b", "300000"),
            (r"\$\{__range_s\}|\$__range_s\b", "300"), (r"\$\{__range\}|\$__range\b", "5m")]


def substitute(expr, variables, rate_interval):
    """Grafana's interpolation of a panel query: builtins, then each query variable (`$x`, `${x}`, `${x:fmt}`,
    `[[x]]`). Returns (text, error)."""
    out = expr
    for pattern, value in BUILTINS:
        out = re.sub(pattern, value or rate_interval, out)
    for name, value in variables.items():
        out = re.sub(r"\$\{" + re.escape(name) + r"(?::[a-z]+)?\}|\$" + re.escape(name) + r"\b|\[\[" + re.escape(name) + r"\]\]",
                     lambda _m: value, out)
    leftover = re.search(r"\$\{?[A-Za-z_]\w*|\[\[\w+\]\]", out)
    if leftover:
        return out, f"unknown template variable {leftover.group(0)}"
    return out, None


def walk_panels(panels):
    for p in panels or []:
        yield p
        yield from walk_panels(p.get("panels"))


# ------------------------------------------------------------------------------------------------- static checks

def run_promtool(failures):
    counts = {}
    for args, what in ((["check", "config", PROM_CONFIG], "config"), (["check", "rules", RULES], "rules")):
        r = subprocess.run(["promtool"] + args, capture_output=True, text=True, timeout=60, cwd=ROOT)
        out = (r.stdout + r.stderr).strip()
        if r.returncode != 0:
            failures.add(f"promtool {' '.join(args)}", "", out.replace("\n", " | "))
        else:
            log(f"promtool {' '.join(os.path.relpath(a, ROOT) if a.startswith('/') else a for a in args)}: ok")
        m = re.search(r"SUCCESS: (\d+) rules found", out)
        if m:
            counts[what] = int(m.group(1))
    return counts.get("rules")


def static_dashboard_checks(failures):
    """Loads the dashboards; checks their variables, data sources and rate windows. Returns
    [(file, title, refId, expr)], {file: [(name, query)]}."""
    exprs, variables = [], {}
    r = subprocess.run([sys.executable, os.path.join(ROOT, "Dashboards", "generate.py"), "--check"], capture_output=True,
                       text=True, timeout=60)
    if r.returncode != 0:
        failures.add("Dashboards/generate.py --check", "", (r.stdout + r.stderr).strip().replace("\n", " | "))
    for path in DASHBOARDS:
        name = os.path.relpath(path, ROOT)
        try:
            d = json.load(open(path, encoding="utf-8"))
        except (OSError, ValueError) as e:
            failures.add(name, "", f"cannot load: {e}")
            continue
        tvars = {v.get("name"): v for v in d.get("templating", {}).get("list", [])}
        ds = tvars.get("datasource")
        if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
            failures.add(name, "", "no `datasource` variable of type datasource with query prometheus")
        model = tvars.get("model")
        if not model or not model.get("multi") or not model.get("includeAll"):
            failures.add(name, "", "no `model` variable with multi and include All")
        variables[name] = []
        for v in tvars.values():
            if v.get("type") != "query":
                continue
            q = v.get("query")
            q = q.get("query") if isinstance(q, dict) else q
            m = re.fullmatch(r"\s*label_values\((.+),\s*(\w+)\)\s*", q or "")
            if not m:
                failures.add(f"{name} variable {v.get('name')}", q or "", "query is not label_values(metric, label)")
                continue
            variables[name].append((v["name"], m.group(1).strip(), m.group(2), v.get("allValue")))
        if model and not any(n == "model" for n, *_ in variables[name]):
            failures.add(name, "", "the model variable is not a label_values query")
        elif model:
            metric = next(mm for n, mm, *_ in variables[name] if n == "model")
            allowed = {"hedgerow_router_request_duration_seconds_count"} | ({"hedgerow_worker_queue_depth", "hedgerow_worker_requests_total"} if name.endswith("workers.json") else set())
            if metric not in allowed:
                failures.add(name, "", f"model variable reads {metric}; expected one of {sorted(allowed)}")
        for p in walk_panels(d.get("panels")):
            title = p.get("title", "(untitled)")
            if p.get("type") == "row":
                continue
            if (p.get("datasource") or {}).get("uid") != "${datasource}":
                failures.add(f"{name} panel '{title}'", "", "panel data source is not ${datasource}")
            targets = p.get("targets") or []
            if not targets:
                failures.add(f"{name} panel '{title}'", "", "panel has no query")
            for t in targets:
                expr = t.get("expr", "")
                where = f"{name} panel '{title}' {t.get('refId', '?')}"
                if (t.get("datasource") or {}).get("uid") != "${datasource}":
                    failures.add(where, expr, "query data source is not ${datasource}")
                if not expr.strip():
                    failures.add(where, expr, "empty expr")
                    continue
                for window in re.findall(r"\[([^\]]*)\]", re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)):
                    if window not in ("$__rate_interval", "${__rate_interval}", "$__range", "${__range}"):
                        failures.add(where, expr, f"range [{window}]: dashboards use [$__rate_interval] (or [$__range])")
                exprs.append((name, title, t.get("refId", "?"), expr))
    return exprs, variables


# ------------------------------------------------------------------------------------------------------ the system

def load_soak():
    spec = importlib.util.spec_from_file_location("hedgerow_soak", os.path.join(ROOT, "Benchmarks", "soak", "soak.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def desired_state(repository):
    """The default desired state users get (Configs/desired-state.yaml: the four example models), with its
    repository made absolute so that a copy in the scratch directory finds the models."""
    with open(os.path.join(ROOT, "Configs", "desired-state.yaml")) as f:
        text = f.read()
    lines = text.splitlines()
    found = [n for n, line in enumerate(lines) if line.startswith("repository:")]
    if len(found) != 1:
        sys.exit("check-observability: Configs/desired-state.yaml has no single top-level repository: line")
    lines[found[0]] = f"repository: {repository}"
    return "\n".join(lines) + "\n"


def write_atomically(path, text):
    with open(path + ".incoming", "w") as f:
        f.write(text)
    os.replace(path + ".incoming", path)


class Load:
    """Clients that send good requests of every model (and 5 % bad ones) until stopped or the hard deadline."""

    def __init__(self, port, good, bad, clients, deadline):
        self.port, self.good, self.bad, self.deadline = port, good, bad, deadline
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.codes = {}
        self.errors = 0
        self.threads = [threading.Thread(target=self.client, args=(i, good, 0.05), daemon=True) for i in range(clients)]

    def start(self):
        for t in self.threads:
            t.start()

    def client(self, seed, pool, bad_share, stop=None, until=None):
        rnd = random.Random(seed)
        stop = stop or self.stop
        until = min(until or self.deadline, self.deadline)
        conn = None
        while not stop.is_set() and time.time() < until:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            _, path, body = rnd.choice(self.bad if rnd.random() < bad_share else pool)
            try:
                conn.request("POST", path, body=body, headers={"content-type": "application/json"})
                r = conn.getresponse()
                r.read()
                with self.lock:
                    self.codes[r.status] = self.codes.get(r.status, 0) + 1
                if (r.getheader("connection") or "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException):
                with self.lock:
                    self.errors += 1
                conn.close()
                conn = None
                stop.wait(0.05)
        if conn:
            conn.close()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(35)


def derive_prometheus_config(text, targets_by_job):
    """The committed config with this run's targets and 1 s intervals. Returns (text, relative rule files)."""
    out, jobs, replaced, rule_files, intervals = [], [], set(), [], set()
    job, in_rules = None, False
    for line in text.splitlines():
        m = re.match(r"^(\s*)(scrape_interval|evaluation_interval|scrape_timeout):\s*\S+", line)
        if m:
            intervals.add(m.group(2))
            line = f"{m.group(1)}{m.group(2)}: 1s"
        if re.match(r"^rule_files:\s*$", line):
            in_rules = True
        elif in_rules and re.match(r"^\s+-\s*\S", line):
            rule_files.append(line.split("-", 1)[1].strip().strip("\"'"))
        elif in_rules and line.strip() and not line.lstrip().startswith("#"):
            in_rules = False
        m = re.match(r"^\s*-?\s*job_name:\s*[\"']?([^\"'\s#]+)", line)
        if m:
            job = m.group(1)
            jobs.append(job)
        m = re.match(r"^(\s*-?\s*targets:\s*)\[.*\]\s*(#.*)?$", line)
        if m:
            if job not in targets_by_job:
                raise ValueError(f"job {job!r} has targets but this check does not know its processes")
            line = m.group(1) + json.dumps(targets_by_job[job])
            replaced.add(job)
        out.append(line)
    if sorted(jobs) != sorted(targets_by_job) or replaced != set(targets_by_job):
        raise ValueError(f"expected the jobs {sorted(targets_by_job)}, each with one `targets: [...]` line; found jobs {jobs}, "
                         f"targets replaced for {sorted(replaced)}")
    if not {"scrape_interval", "evaluation_interval"} <= intervals:
        raise ValueError("expected global scrape_interval and evaluation_interval")
    if not rule_files:
        raise ValueError("expected rule_files")
    return "\n".join(out) + "\n", rule_files


def wait_until(what, seconds, probe, interval=0.5):
    """probe() until it returns a true value, at most `seconds`; returns its value or None."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            value = probe()
        except (OSError, http.client.HTTPException, ValueError, KeyError):
            value = None
        if value:
            return value
        time.sleep(interval)
    log(f"gave up waiting for {what} after {seconds:.0f} s")
    return None


# ------------------------------------------------------------------------------------------------------------ main

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", required=True, help="hedgerow binary (copied to a scratch directory before it runs)")
    parser.add_argument("--rate-interval", default="30s", help="what $__rate_interval becomes (default 30s)")
    parser.add_argument("--samples", type=int, default=20, help="seconds of 1 s samples to collect before the queries")
    parser.add_argument("--ready-timeout", type=float, default=180)
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    parser.add_argument("--screenshot", default=os.path.join(tempfile.gettempdir(), "hedgerow-dashboard.png"),
                        help="where the screenshot of /dashboard under load is kept (look at it)")
    parser.add_argument("--verbose", action="store_true", help="print what each query returned (a few series each)")
    a = parser.parse_args()

    failures = Failures()
    missing = [t for t in ("prometheus", "promtool") if not shutil.which(t)]
    if missing:
        log(f"FAILED: {' and '.join(missing)} not found on PATH. This check installs nothing: install Prometheus "
            "(Debian/Ubuntu: apt-get install prometheus, which brings promtool).")
        sys.exit(2)
    if not os.path.exists(a.binary):
        log(f"FAILED: no binary at {a.binary}")
        sys.exit(2)

    def on_term(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_term)

    log("static checks")
    rule_count = run_promtool(failures)
    panel_exprs, dash_vars = static_dashboard_checks(failures)
    declared = set(re.findall(r'"([a-z_:][a-z0-9_:]*)"', open(METRIC_NAMES_SWIFT).read())) if os.path.exists(METRIC_NAMES_SWIFT) else set()

    work = tempfile.mkdtemp(prefix="hedgerow-observability-")
    binary = os.path.join(work, "hedgerow")
    shutil.copy2(a.binary, binary)
    config = os.path.join(work, "desired-state.yaml")
    valid_state = desired_state(os.path.join(ROOT, "Models"))
    write_atomically(config, valid_state)
    taken = set()
    router, sync, base, prom_port = free_port(taken), free_port(taken), free_port(taken, 2), free_port(taken)
    workers = [base, base + 1]
    up = prom = load = None
    up_log = open(os.path.join(work, "up.log"), "w+")
    prom_log = open(os.path.join(work, "prometheus.log"), "w+")
    not_exercised = {}
    checked = {"panel": 0, "variable": 0, "rule": 0, "evaluations": 0}
    hard_deadline = time.time() + 900
    try:
        log(f"scratch {work}; router :{router}, synchronizer :{sync}, workers :{workers[0]} :{workers[1]}, prometheus :{prom_port}")
        up = subprocess.Popen([binary, "up", "--workers", "2", "--router-port", str(router), "--sync-port", str(sync),
                               "--worker-base-port", str(base), "--config", config, "--ready-timeout", str(max(10, a.ready_timeout - 10))],
                              stdout=up_log, stderr=subprocess.STDOUT, cwd=work, start_new_session=True, preexec_fn=die_with_parent)

        def summary():
            if up.poll() is not None:
                raise SystemExit(f"hedgerow up exited ({up.returncode}) before it was up")
            up_log.seek(0)
            text = up_log.read()
            return text if "Hedgerow is up." in text else None
        text = wait_until("hedgerow up's summary", a.ready_timeout, summary)
        if not text:
            raise SystemExit(f"hedgerow up printed no summary within {a.ready_timeout:.0f} s")
        for model in MODELS:
            m = re.search(rf"^\s+{re.escape(model)} v\d+: (\d+)/(\d+) replicas", text, re.M)
            if not m or m.group(1) != m.group(2) or m.group(1) == "0":
                raise SystemExit(f"hedgerow up's summary does not show {model} with all its replicas ready")
        log("hedgerow up is up with " + ", ".join(MODELS))

        prom_dir = os.path.join(work, "prometheus")
        os.makedirs(os.path.join(prom_dir, "data"))
        derived, rule_files = derive_prometheus_config(open(PROM_CONFIG).read(), {
            "hedgerow-router": [f"127.0.0.1:{router}"], "hedgerow-synchronizer": [f"127.0.0.1:{sync}"],
            "hedgerow-workers": [f"127.0.0.1:{p}" for p in workers]})
        for rf in rule_files:
            if os.path.isabs(rf):
                raise SystemExit(f"rule_files entry {rf} is absolute; the committed config uses paths relative to it")
            os.makedirs(os.path.dirname(os.path.join(prom_dir, rf)), exist_ok=True)
            shutil.copy2(os.path.join(os.path.dirname(PROM_CONFIG), rf), os.path.join(prom_dir, rf))
        prom_config = os.path.join(prom_dir, "prometheus.yml")
        write_atomically(prom_config, derived)
        r = subprocess.run(["promtool", "check", "config", prom_config], capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise SystemExit("the derived Prometheus config does not check: " + (r.stdout + r.stderr).strip())
        prom = subprocess.Popen(["prometheus", f"--config.file={prom_config}", f"--storage.tsdb.path={prom_dir}/data",
                                 f"--web.listen-address=127.0.0.1:{prom_port}", "--storage.tsdb.retention.time=1h", "--log.level=warn"],
                                stdout=prom_log, stderr=subprocess.STDOUT, cwd=prom_dir, start_new_session=True, preexec_fn=die_with_parent)
        p = Prometheus(prom_port)

        # Load from here to the end (Prometheus starts first: no fork while these threads run).
        soak = load_soak()
        good, bad_all = soak.requests_for_models()
        bad = [b for b in bad_all if b[0] in ("malformed json", "wrong shape", "unknown model", "id out of table")]
        load = Load(router, good, bad, clients=3, deadline=hard_deadline)
        load.start()

        def targets_up():
            if prom.poll() is not None:
                raise SystemExit(f"prometheus exited ({prom.returncode}); see {prom_log.name}")
            active = p.api("/api/v1/targets").get("data", {}).get("activeTargets", [])
            jobs = {t["labels"]["job"] for t in active}
            return len(active) == 4 and jobs == set(JOBS) and all(t["health"] == "up" for t in active)
        if not wait_until("every Prometheus target up", 60, targets_up):
            active = p.api("/api/v1/targets").get("data", {}).get("activeTargets", [])
            raise SystemExit("Prometheus targets not all up: " + "; ".join(
                f"{t['labels'].get('job')} {t['scrapeUrl']} {t['health']} {t.get('lastError', '')}" for t in active))
        scrape_start = time.time()
        log("prometheus scrapes every target")

        # A refused desired-state edit: creates hedgerow_sync_config_errors_total, flips hedgerow_sync_config_refused.
        refused_at = None
        write_atomically(config, valid_state + "models: [ this is not a desired state\n")
        state = lambda: json.loads(http_get(sync, "/v1/state")[1])  # noqa: E731
        if wait_until("the synchronizer to refuse the broken edit", 20, lambda: state().get("configFileRefused")):
            refused_at = time.time()
            time.sleep(3)
            gauge = scrape_value(sync, "hedgerow_sync_config_refused")
            if gauge is not None and gauge != 1:
                failures.add("synchronizer /metrics", "", f"hedgerow_sync_config_refused is {gauge} while the file is refused")
        else:
            failures.add("synchronizer", "", "a broken desired-state edit was not refused within 20 s (/v1/state configFileRefused)")
        write_atomically(config, valid_state)
        if not wait_until("the synchronizer to accept the restored file", 20, lambda: state().get("configFileRefused") is False):
            failures.add("synchronizer", "", "the restored desired state was not accepted within 20 s")
        else:
            gauge = scrape_value(sync, "hedgerow_sync_config_refused")
            if gauge is not None and gauge != 0:
                failures.add("synchronizer /metrics", "", f"hedgerow_sync_config_refused is {gauge} after the file was restored")
        log("a broken desired-state edit was refused, then the file restored")

        burst_end = time.time()

        def enough_samples():
            r = p.query("min(count_over_time(up[10m]))", time.time())
            v = r.get("data", {}).get("result", [])
            return v and float(v[0]["value"][1]) >= a.samples and time.time() - burst_end >= 5
        wait_until(f"{a.samples} samples of every target", a.samples + 60, enough_samples)
        at = time.time()
        names = set(p.api("/api/v1/label/__name__/values").get("data", []))
        log(f"{len(names)} metric names in Prometheus; evaluating at {time.strftime('%H:%M:%S', time.localtime(at))}")

        reported = set()

        def check_names(where, expr):
            """Fails each name that is not scraped (once per place), unless it is an event-only metric declared in
            MetricNames.swift (then noted). Returns the event-only names missing."""
            absent_events = []
            for n in sorted(metric_names(expr)):
                if n in names:
                    continue
                base_name = re.sub(r"_(bucket|sum|count)$", "", n)
                if n in EVENT_ONLY and (n in declared or base_name in declared):
                    absent_events.append(n)
                    not_exercised.setdefault(n, set()).add(where)
                elif (where, n) not in reported:
                    reported.add((where, n))
                    failures.add(where, expr, f"metric {n} is not among the scraped metrics")
            return absent_events

        # Template variables: their values, and the two ways Grafana sends All.
        modes_by_file = {}
        for name, tvars in dash_vars.items():
            all_mode, each_mode = {}, {}
            for var, metric, label, all_value in tvars:
                checked["variable"] += 1
                where = f"{name} variable {var}"
                r = p.api("/api/v1/series", {"match[]": metric, "start": f"{at - 300:.3f}", "end": f"{at:.3f}"})
                values = sorted({s[label] for s in r.get("data", []) if label in s})
                if r.get("status") != "success":
                    failures.add(where, f"label_values({metric}, {label})", f"Prometheus: {r.get('error')}")
                elif not values:
                    failures.add(where, f"label_values({metric}, {label})", "no values")
                check_names(where, metric)
                escaped = [grafana_regex_escape(v) for v in values] or ["no-value"]
                each_mode[var] = escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"
                all_mode[var] = all_value if all_value is not None else each_mode[var]
                if var == "model":
                    missing_models = [m for m in MODELS if m not in values]
                    if missing_models:
                        failures.add(where, "", f"no value for {', '.join(missing_models)}")
            modes_by_file[name] = [("All", all_mode), ("each value", each_mode)]

        for name, title, ref, expr in panel_exprs:
            checked["panel"] += 1
            where = f"{name} panel '{title}' {ref}"
            for mode, values in modes_by_file.get(name, [("", {})]):
                text, err = substitute(expr, values, a.rate_interval)
                if err:
                    failures.add(where, expr, err)
                    break
                checked["evaluations"] += 1
                r = p.query(text, at)
                if r.get("status") != "success":
                    failures.add(f"{where} [{mode}]", text, f"Prometheus: {r.get('errorType', '')} {r.get('error')}")
                    continue
                result = r["data"]["result"]
                series = len(result) if r["data"]["resultType"] in ("vector", "matrix") else 1
                if a.verbose and mode == "All":
                    shown = [f"{ {k: v for k, v in x['metric'].items() if k not in ('job',)} }={x['value'][1]}" for x in result[:4]] \
                        if r["data"]["resultType"] == "vector" else [str(result)]
                    print(f"  {where}: {series} series; " + "; ".join(shown), flush=True)
                absent_events = check_names(where, text)
                if series == 0 and not absent_events:
                    failures.add(f"{where} [{mode}]", text, "returned no series")

        # Rules: as Prometheus loaded them from the derived config (same files as the committed ones).
        wait_until("every rule evaluated", 15, lambda: all(r.get("health") in ("ok", "err") for g in p.api("/api/v1/rules")["data"]["groups"]
                                                          for r in g["rules"]))
        groups = p.api("/api/v1/rules").get("data", {}).get("groups", [])
        rules = [(g["name"], r) for g in groups for r in g["rules"]]
        if rule_count is not None and len(rules) != rule_count:
            failures.add("Deploy/prometheus/alerts.yml", "", f"Prometheus loaded {len(rules)} rules, promtool counted {rule_count}")
        for group, rule in rules:
            checked["rule"] += 1
            kind = "alert" if rule["type"] == "alerting" else "record"
            where = f"Deploy/prometheus/alerts.yml {group} {kind} {rule['name']}"
            if rule.get("health") != "ok":
                failures.add(where, rule["query"], f"rule health {rule.get('health')}: {rule.get('lastError', '')}")
            if kind == "alert":
                ann = rule.get("annotations", {})
                if not ann.get("summary") or not ann.get("description"):
                    failures.add(where, "", "alert without summary and description annotations")
            checked["evaluations"] += 1
            r = p.query(rule["query"], at)
            if r.get("status") != "success":
                failures.add(where, rule["query"], f"Prometheus: {r.get('errorType', '')} {r.get('error')}")
                continue
            absent_events = check_names(where, rule["query"])
            if kind == "record" and not r["data"]["result"] and not absent_events:
                failures.add(where, rule["query"], "recording rule returned no series")

        # The desired-state alert's condition held while the file was refused.
        refused_rule = next((r for _, r in rules if r["name"] == "HedgerowDesiredStateRefused"), None)
        if refused_rule and refused_at:
            checked["evaluations"] += 1
            r = p.query(refused_rule["query"], refused_at + 2)
            if r.get("status") != "success" or not r["data"]["result"]:
                failures.add("Deploy/prometheus/alerts.yml alert HedgerowDesiredStateRefused", refused_rule["query"],
                             "returned no series while the desired-state file was refused")
            r = p.query(refused_rule["query"], at)
            if r.get("status") == "success" and r["data"]["result"]:
                failures.add("Deploy/prometheus/alerts.yml alert HedgerowDesiredStateRefused", refused_rule["query"],
                             "still returns a series after the file was restored")

        # The dashboards' count of refused edits (an increase over $__rate_interval) saw the refused edit. A counter
        # that is only created at its first increment starts at 1, and increase() cannot see that first refusal.
        refusals = [(n, t, r, e) for n, t, r, e in panel_exprs if "increase(hedgerow_sync_config_errors_total" in e]
        if not refusals:
            failures.add("Dashboards", "", "no panel shows the increase of hedgerow_sync_config_errors_total")
        for name, title, ref, expr in refusals:
            if not refused_at:
                break
            text, _ = substitute(expr, modes_by_file.get(name, [("", {})])[0][1], a.rate_interval)
            checked["evaluations"] += 1
            r = p.query(text, refused_at + 10)
            values = [float(x["value"][1]) for x in r.get("data", {}).get("result", [])] if r.get("status") == "success" else []
            if not values or max(values) < 0.5:
                failures.add(f"{name} panel '{title}' {ref}", text,
                             f"shows {values} 10 s after one refused edit: hedgerow_sync_config_errors_total must exist (at 0) "
                             "before the first refusal, or increase() misses that refusal")

        if os.path.exists(PAGE_CHECK):
            log("running Scripts/check-dashboard-page.py")
            try:
                r = subprocess.run([sys.executable, PAGE_CHECK, "--router", f"http://127.0.0.1:{router}", "--models", ",".join(MODELS),
                                    "--screenshot", a.screenshot], capture_output=True, text=True, timeout=300, cwd=ROOT)
                tail = "\n".join((r.stdout + r.stderr).strip().splitlines()[-15:])
                if r.returncode != 0:
                    failures.add("Scripts/check-dashboard-page.py", "", f"exit {r.returncode}:\n{tail}")
                else:
                    log("check-dashboard-page.py passed: " + tail)
            except subprocess.TimeoutExpired:
                failures.add("Scripts/check-dashboard-page.py", "", "did not finish within 300 s")
        else:
            failures.add("Scripts/check-dashboard-page.py", "", "missing")
        if load.codes.get(200, 0) == 0:
            failures.add("load", "", "no request was answered 200")
    except SystemExit as e:
        if e.code not in (None, 0):
            failures.add("run", "", str(e.code))
    except KeyboardInterrupt as e:
        failures.add("run", "", f"interrupted ({e})")
    finally:
        if load:
            load.finish()
        for proc, name in ((prom, "prometheus"), (up, "hedgerow up")):
            if proc and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    log(f"{name} did not stop within 30 s: SIGKILL to its process group")
                    try:
                        os.killpg(proc.pid, signal.SIGKILL)
                    except OSError:
                        pass
                    proc.wait(10)
        if up:
            try:  # role processes of up that outlived it (they share its process group)
                os.killpg(up.pid, signal.SIGKILL)
            except OSError:
                pass
    if load:
        log(f"load: answers by code {dict(sorted(load.codes.items()))}, transport errors {load.errors}")
    for n, wheres in sorted(not_exercised.items()):
        log(f"not exercised: {n} ({EVENT_ONLY[n]}); declared in MetricNames.swift; queried by {len(wheres)} expression(s)")
    counts = (f"{checked['panel']} panel queries, {checked['variable']} variable queries, {checked['rule']} rules "
              f"({checked['evaluations']} evaluations)")
    if failures.items:
        if any(where in ("run", "synchronizer", "load") for where, _, _ in failures.items):
            up_log.seek(0)
            print("last lines of hedgerow up:\n" + "".join(up_log.readlines()[-20:]))
        print(f"\n{len(failures.items)} failure(s):")
        for where, expr, why in failures.items:
            print(f"- {where}: {why}" + (f"\n    {one_line(expr)}" if expr else ""))
        print(f"check-observability FAILED: {len(failures.items)} failure(s); {counts}; scratch {work}")
        sys.exit(1)
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)
    print(f"check-observability passed: {counts}, {len(not_exercised)} event-only metric(s) not exercised"
          + ("" if not a.keep else f"; scratch {work}"))


if __name__ == "__main__":
    main()
