"""Hedging against a stalling replica on `hedgerow up`, driven by h2load. See stall.sh."""
import argparse, json, math, os, re, shutil, signal, statistics, subprocess, sys, tempfile, threading, time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "Benchmarks", "lib"))
from h2loadrun import free_ports, h2load  # noqa: E402
from upprocs import roles  # noqa: E402

HEDGES, WINS = "hedgerow_router_hedges_total", "hedgerow_router_hedge_wins_total"
RETRIES, REFUSALS = "hedgerow_router_retries_total", "hedgerow_router_hedge_budget_refusals_total"
CANCELLED, GAUGE = "hedgerow_router_cancelled_attempts_total", "hedgerow_router_hedge_delay_seconds"
COUNTERS = (HEDGES, WINS, RETRIES, REFUSALS, CANCELLED)
# "off again" repeats "off" after "on": the spread between the two off cells of one run is this machine's noise
# floor for a ratio of two cells (an A/A test), against which on/off is read.
MODES = {"stall": ("least-requests off", "off", "on", "off again"), "healthy": ("off", "on", "off again"),
         "step": ("off", "on", "off again")}
CLIENTS = 4


def digits_body():
    # The model's inputs are the held-out rows next to it (reference.json holds onnxruntime's outputs for them).
    row = json.load(open(os.path.join(ROOT, "Models/digits/testset.json")))["inputs"][0]
    assert len(row) == 64
    return json.dumps({"instances": [row]})


class Cluster:
    """A fresh `hedgerow up` (synchronizer, workers w1 and w2, one router) on free ports."""

    def __init__(self, binary, workdir, budget, least_requests):
        self.router, self.sync, base, _ = free_ports(4)
        cfg = os.path.join(workdir, "desired-state.yaml")
        with open(cfg, "w") as f:
            f.write(f"repository: {ROOT}/Models\ndefaults:\n"
                    f"  hedging: {{ percentile: 95, budgetPercent: {budget}, minDelayMs: 1, maxDelayMs: 1000 }}\n"
                    "models:\n  - name: digits\n    versions: { latest: 1 }\n    replicas: 2\n")
        self.out = open(os.path.join(workdir, "up.log"), "w+")
        extra = ["--router-argument=--balancer=least-requests"] if least_requests else []
        # Its own session: Ctrl-C reaches only this script, which resumes a frozen worker before stopping `up`.
        self.proc = subprocess.Popen(
            [binary, "up", "--config", cfg, "--workers", "2", "--router-port", str(self.router),
             "--sync-port", str(self.sync), "--worker-base-port", str(base)] + extra,
            stdout=self.out, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True)
        self.roles = {}
        deadline = time.time() + 120
        while time.time() < deadline and self.proc.poll() is None:
            self.out.seek(0)
            if "Hedgerow is up." in self.out.read():
                self.roles = roles(self.proc.pid)
                return
            time.sleep(0.2)
        self.stop()
        with open(self.out.name) as f:
            raise SystemExit("hedgerow up did not become ready:\n" + "".join(f.readlines()[-20:]))

    def stop(self):
        for pid in self.roles.values():  # a worker stopped by SIGSTOP would never act on the SIGTERM `up` sends it
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.out.close()


class Background:
    """Runs body(stop_event) in a thread; body returns soon after the event is set."""

    def __init__(self, body):
        self.event = threading.Event()
        self.thread = threading.Thread(target=body, args=(self.event,), daemon=True)
        self.thread.start()

    def stop(self):
        self.event.set()
        self.thread.join(10)


def stall(pid):
    """Freezes the process for 50 ms every 500 ms until stopped; it is always resumed at the end."""
    def body(stop):
        try:
            while not stop.is_set():
                os.kill(pid, signal.SIGSTOP)
                stop.wait(0.05)
                os.kill(pid, signal.SIGCONT)
                stop.wait(0.45)
        except ProcessLookupError:
            pass
        finally:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
    return Background(body)


def scrape(port, timeout=5):
    """Every metric of model="digits" on the router, summed over its other labels."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=timeout).read().decode()
    totals = {}
    for m in re.finditer(r'^(\w+)\{([^}]*)\}\s+(\S+)$', text, re.M):
        if 'model="digits"' in m.group(2):
            totals[m.group(1)] = totals.get(m.group(1), 0.0) + float(m.group(3))
    return totals


def poll_gauge(port, samples):
    """Appends (monotonic time, hedge delay in seconds) every 100 ms until stopped."""
    def body(stop):
        while not stop.is_set():
            t = time.monotonic()
            try:
                value = scrape(port, timeout=1).get(GAUGE)
            except OSError:
                value = None
            if value is not None:
                samples.append((t, value))
            stop.wait(max(0.0, 0.1 - (time.monotonic() - t)))
    return Background(body)


def rank(values, p):
    """Nearest-rank percentile."""
    if not values:
        return float("nan")
    values = sorted(values)
    return values[max(0, math.ceil(len(values) * p / 100) - 1)]


def fixed_rate(rate, seconds):
    return ["-D", str(seconds), "-c", str(CLIENTS), "-m", "64", "--rps", f"{rate / CLIENTS:g}"]  # --rps is per client


def cell(a, scenario, mode, rate, run, workdir, body_file):
    """One cell on a fresh cluster: warm-up, counters, fixed-rate measurement, counters again."""
    budget = a.budget if mode == "on" else 0
    cluster = Cluster(a.binary, workdir, budget, mode == "least-requests off")
    url = f"http://127.0.0.1:{cluster.router}/v1/models/digits:predict"
    freezer = poller = None
    samples = []
    log = lambda name: tempfile.mktemp(prefix=f"{name}-", suffix=".log", dir=workdir)  # noqa: E731
    try:
        w2 = cluster.roles["worker w2"]
        if scenario != "healthy":
            freezer = stall(w2)
        if scenario == "step" and mode == "on":
            poller = poll_gauge(cluster.router, samples)
        warm = ["-D", str(a.warmup), "-c", str(CLIENTS), "-m", "8"] if scenario == "step" else fixed_rate(rate, a.warmup)
        h2load(url, body_file, warm, log("warm"))
        before = scrape(cluster.router)
        start = time.monotonic()
        summary, rows = h2load(url, body_file, fixed_rate(rate, a.seconds), log("measure"))
        end = time.monotonic()
        after = scrape(cluster.router)
        alive = all(os.path.exists(f"/proc/{pid}") for pid in cluster.roles.values())
    finally:
        for thread in (poller, freezer):
            if thread:
                thread.stop()
        cluster.stop()
    ms = [d for _, d in rows]
    non200 = sum(1 for status, _ in rows if status != 200)
    sent = summary.get("started", len(rows))
    delta = {name: after.get(name, 0.0) - before.get(name, 0.0) for name in COUNTERS}
    r = {"scenario": scenario, "rate": rate, "mode": mode, "run": run, "budget": budget, "sent": sent,
         "logged": len(rows), "failed": non200 + max(0, summary.get("failed", 0) - non200),
         "unfinished": sent - summary.get("done", sent), "p50": rank(ms, 50), "p99": rank(ms, 99),
         "p999": rank(ms, 99.9), "max": max(ms, default=float("nan")),
         "extra": (delta[HEDGES] + delta[RETRIES]) / sent * 100 if sent else float("nan"),
         "refusals": delta[REFUSALS], "wins": delta[WINS], "hedges": delta[HEDGES], "retries": delta[RETRIES],
         "cancelled": delta[CANCELLED], "all_up": alive, "h2load": summary}
    if poller:
        r.update(settle(samples, start, end, min(5.0, a.seconds)))
    return r


def settle(samples, start, end, window, hold=2.0):
    """The gauge around the step: its value just before, its steady value (median of the last `window` s) and how
    long after the step it entered the band of ±20% around that and then stayed in it for `hold` s (or to the end).
    (Not "to the end": the steady value itself drifts with the machine's latency, and a late drift out of the band
    is the delay following the load, not failing to settle.)"""
    phase = [(t - start, v) for t, v in samples if start <= t <= end]
    before = [v for t, v in samples if t < start]
    steady = statistics.median(v for t, v in phase if t >= end - start - window) if phase else float("nan")
    settled = None
    for t, v in phase:
        inside = abs(v - steady) <= 0.2 * steady
        if settled is not None and t - settled >= hold:
            break
        if not inside:
            settled = None
        elif settled is None:
            settled = t
    return {"gauge_before": before[-1] if before else float("nan"), "steady": steady,
            "settle": settled if settled is not None else float("inf"),
            "gauge": [(round(t - start, 3), v) for t, v in samples]}


def f(x, digits=2):
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def mw(values, digits=2):
    """median / worst (the largest)."""
    return f"{f(statistics.median(values), digits)} / {f(max(values), digits)}" if values else "-"


def spread(again, first):
    """A/A: how far apart the p99 of two identical cells of one run are, as a ratio ≥ 1 (larger over smaller)."""
    return [max(again[i]["p99"], first[i]["p99"]) / min(again[i]["p99"], first[i]["p99"]) for i in again if i in first]


def yes(ok):
    return "-" if ok is None else ("yes" if ok else "no")


def tables(cells, a):
    by = {}
    for c in cells:
        by.setdefault((c["scenario"], c["rate"], c["mode"]), []).append(c)
    keys = sorted({(s, r) for s, r, _ in by if s != "step"}, key=lambda k: (k[0] != "stall", k[1]))
    if keys:
        print("\n| scenario | rate req/s | mode | runs | p99 ms median / worst | p99.9 ms median / worst | failed | "
              "extra requests % median / worst | budget refusals (median) | hedge wins (median) |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for s, rate in keys:
            for mode in MODES[s]:
                rs = by.get((s, rate, mode), [])
                if rs:
                    print(f"| {s} | {rate} | {mode} | {len(rs)} | {mw([c['p99'] for c in rs])} | "
                          f"{mw([c['p999'] for c in rs])} | {sum(c['failed'] for c in rs)} | "
                          f"{mw([c['extra'] for c in rs])} | {f(statistics.median(c['refusals'] for c in rs), 0)} | "
                          f"{f(statistics.median(c['wins'] for c in rs), 0)} |")
        print(f"\nGoals, paired by run: p99 on ≤ 1.1× off, p99.9 on ≤ 10 ms, p99.9 on ≤ 0.2× least-requests off, "
              f"extra ≤ {a.budget}%, zero failed (every mode); each in every run.\n")
        print("| scenario | rate req/s | p99 on/off median / worst | A/A: p99 off again vs off, median / worst spread | "
              "p99.9 on worst ms | p99.9 on/lr-off median / worst | "
              "extra % worst (budget) | failed on / off / lr-off | p99 ≤ 1.1× | p99.9 ≤ 10 ms | p99.9 ≤ 0.2× lr | "
              "extra ≤ budget | zero failed |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for s, rate in keys:
            runs = {m: {c["run"]: c for c in by.get((s, rate, m), [])} for m in MODES["stall"]}
            on, off, lr = runs["on"], runs["off"], runs["least-requests off"]
            p99 = [on[i]["p99"] / off[i]["p99"] for i in on if i in off]
            aa = spread(runs["off again"], off)
            p999 = [on[i]["p999"] / lr[i]["p999"] for i in on if i in lr]
            extra = [c["extra"] for c in on.values()]
            worst_999 = max((c["p999"] for c in on.values()), default=None)
            failed = [sum(c["failed"] for c in runs[m].values()) for m in ("on", "off", "least-requests off")]
            print(f"| {s} | {rate} | {mw(p99)} | {mw(aa)} | {f(worst_999)} | {mw(p999)} | "
                  f"{f(max(extra) if extra else None)} ({a.budget}) | "
                  f"{' / '.join(str(n) if runs[m] else '-' for n, m in zip(failed, ('on', 'off', 'least-requests off')))} | "
                  f"{yes(all(x <= 1.1 for x in p99) if p99 else None)} | "
                  f"{yes(worst_999 <= 10 if worst_999 is not None else None)} | "
                  f"{yes(all(x <= 0.2 for x in p999) if p999 else None)} | "
                  f"{yes(all(x <= a.budget for x in extra) if extra else None)} | {yes(sum(failed) == 0)} |")
    steps = {m: by.get(("step", a.step_rate, m), []) for m in MODES["step"]}
    if any(steps.values()):
        print(f"\nLoad step: {a.warmup} s closed loop (h2load -c {CLIENTS} -m 8), then {a.step_rate} req/s for "
              f"{a.seconds} s, one worker stalling throughout. Settle: until the hedge delay is within ±20% of "
              "its steady value (the median of the last 5 s) and stays there for 2 s.\n")
        print("| mode | runs | settle s median / worst | gauge before step ms | steady ms | p99 ms median / worst | "
              "p99.9 ms median / worst | failed | extra % median / worst |")
        print("|---|---|---|---|---|---|---|---|---|")
        for mode, rs in steps.items():
            if not rs:
                continue
            on = mode == "on"
            gauge = lambda key: f(statistics.median(c[key] * 1000 for c in rs)) if on else "-"  # noqa: E731
            print(f"| {mode} | {len(rs)} | {mw([c['settle'] for c in rs]) if on else '-'} | {gauge('gauge_before')} | "
                  f"{gauge('steady')} | {mw([c['p99'] for c in rs])} | {mw([c['p999'] for c in rs])} | "
                  f"{sum(c['failed'] for c in rs)} | {mw([c['extra'] for c in rs])} |")
        on, off, again = ({c["run"]: c for c in steps[m]} for m in ("on", "off", "off again"))
        ratio = [on[i]["p99"] / off[i]["p99"] for i in on if i in off]
        print(f"\nGoals: settle ≤ 2 s in every run: {yes(all(c['settle'] <= 2 for c in on.values()) if on else None)}; "
              f"p99 on ≤ 1.1× off in every run: {yes(all(x <= 1.1 for x in ratio) if ratio else None)} "
              f"(on/off median / worst {mw(ratio)}; A/A, off again vs off: median / worst spread {mw(spread(again, off))}).")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--binary", required=True)
    p.add_argument("--seconds", type=int, default=15)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--rates", default="100,200,400")
    p.add_argument("--healthy-rate", type=int, default=400)
    p.add_argument("--step-rate", type=int, default=100)
    p.add_argument("--budget", type=float, default=5)
    p.add_argument("--scenarios", default="stall,healthy,step")
    p.add_argument("--json", help="write every cell's numbers here, one JSON object a line")
    a = p.parse_args()
    a.budget = int(a.budget) if a.budget == int(a.budget) else a.budget
    if not shutil.which("h2load"):
        raise SystemExit("h2load is missing: make bench-tools")
    scenarios = a.scenarios.split(",")
    plan = [("stall", int(r)) for r in a.rates.split(",") if "stall" in scenarios]
    plan += [("healthy", a.healthy_rate)] * ("healthy" in scenarios) + [("step", a.step_rate)] * ("step" in scenarios)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that the finally blocks resume and stop everything
    workdir = tempfile.mkdtemp(prefix="hedgerow-hedging-")
    body_file = os.path.join(workdir, "body.json")
    with open(body_file, "w") as fh:
        fh.write(digits_body())
    out = open(a.json, "w") if a.json else None
    cells = []
    try:
        # Runs outermost, modes innermost: drift on a shared machine spreads over every mode alike.
        for run in range(1, a.runs + 1):
            for scenario, rate in plan:
                for mode in MODES[scenario]:
                    c = cell(a, scenario, mode, rate, run, workdir, body_file)
                    cells.append(c)
                    note = (f", gauge {f(c['gauge_before'] * 1000)} → {f(c['steady'] * 1000)} ms, settle "
                            f"{f(c['settle'])} s") if "settle" in c else ""
                    print(f"run {run}/{a.runs} {scenario} {rate} req/s {mode}: sent {c['sent']}, failed {c['failed']}"
                          f"{', unfinished ' + str(c['unfinished']) if c['unfinished'] else ''}, p50 {f(c['p50'])} "
                          f"p99 {f(c['p99'])} p99.9 {f(c['p999'])} max {f(c['max'])} ms, extra {f(c['extra'])}%, "
                          f"refusals {c['refusals']:.0f}, wins {c['wins']:.0f}{note}"
                          f"{'' if c['all_up'] else ', A ROLE DIED'}", flush=True)
                    if out:
                        finite = {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in c.items()}
                        out.write(json.dumps(finite) + "\n")
                        out.flush()
    finally:
        if out:
            out.close()
        shutil.rmtree(workdir, ignore_errors=True)
    tables(cells, a)


if __name__ == "__main__":
    main()
