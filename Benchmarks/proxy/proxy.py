"""The data-plane benchmark: the same two Hedgerow workers reached directly, through HAProxy, through nghttpx and
through the Hedgerow router, driven by h2load. Prints a Markdown table of the median and worst of --runs runs.
See run.sh for the command and Benchmarks/README.md for what the cells mean."""
import argparse, json, os, re, shutil, signal, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "Benchmarks", "lib"))
from h2loadrun import free_ports  # noqa: E402
from upprocs import roles  # noqa: E402

CLIENTS, STREAMS = 4, 16
TICKS = os.sysconf("SC_CLK_TCK")


def digits_row():
    return json.load(open(os.path.join(ROOT, "Models/digits/testset.json")))["inputs"][0]


def digits_body():
    """TensorFlow Serving's row format, for the HTTP/2 cells."""
    return json.dumps({"instances": [digits_row()]})


def digits_v2_body():
    """KServe v2, for the HTTP/1.1 cells: the route and body MLServer answers too, so both do the same work."""
    return json.dumps({"inputs": [{"name": "input", "shape": [1, 64], "datatype": "FP32", "data": digits_row()}]})


def cpu_seconds(pids):
    """utime + stime of `pids` (threads included), seconds; a pid that is gone counts 0."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total / TICKS


def children(pid):
    """pid and every descendant of it (nghttpx and MLServer fork their workers)."""
    found, frontier = [pid], [pid]
    while frontier:
        parent = frontier.pop()
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        if int(f.read().rsplit(")", 1)[1].split()[1]) == parent:
                            found.append(int(entry))
                            frontier.append(int(entry))
                except (OSError, ValueError):
                    pass
    return found


def wait_for_port(port, proc, what, seconds=60):
    import socket
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited at start (exit {proc.returncode}); see its log in the work directory")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise SystemExit(f"{what} did not listen on port {port} within {seconds} s")


class Processes:
    """What the benchmark started, stopped in reverse order however it ends."""

    def __init__(self, workdir):
        self.workdir, self.started = workdir, []

    def start(self, name, cmd, **kwargs):
        log = open(os.path.join(self.workdir, f"{name}.log"), "w+")
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, **kwargs)
        self.started.append(proc)
        return proc, log

    def stop(self):
        for proc in reversed(self.started):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in reversed(self.started):
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def start_hedgerow(procs, binary, workdir):
    router, sync, base, _ = free_ports(4)
    cfg = os.path.join(workdir, "desired-state.yaml")
    with open(cfg, "w") as f:
        f.write(f"repository: {ROOT}/Models\nmodels:\n  - name: digits\n    versions: {{ latest: 1 }}\n    replicas: 2\n")
    proc, log = procs.start("up", [binary, "up", "--config", cfg, "--workers", "2", "--router-port", str(router),
                                   "--sync-port", str(sync), "--worker-base-port", str(base)], cwd=ROOT)
    deadline = time.time() + 120
    while time.time() < deadline:
        log.seek(0)
        if "Hedgerow is up." in log.read():
            pids = roles(proc.pid)
            return router, (base, base + 1), pids["router"], [pids["worker w1"], pids["worker w2"]]
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    raise SystemExit("hedgerow up did not become ready; see up.log in the work directory")


def start_haproxy(procs, workdir, workers):
    port = free_ports(1)[0]
    cfg = os.path.join(workdir, "haproxy.cfg")
    with open(cfg, "w") as f:
        f.write("global\n  nbthread 1\n  maxconn 4000\n"
                "defaults\n  mode http\n  timeout connect 5s\n  timeout client 60s\n  timeout server 60s\n"
                f"frontend fe\n  bind 127.0.0.1:{port} proto h2\n  default_backend workers\n"
                "backend workers\n  balance leastconn\n  http-reuse always\n"
                + "".join(f"  server w{i + 1} 127.0.0.1:{w} proto h2\n" for i, w in enumerate(workers)))
    proc, _ = procs.start("haproxy", ["haproxy", "-db", "-f", cfg])
    wait_for_port(port, proc, "haproxy")
    return port, proc.pid


def start_nghttpx(procs, workdir, workers):
    port = free_ports(1)[0]
    cmd = ["nghttpx", f"--frontend=127.0.0.1,{port};no-tls", "--workers=1", "--no-ocsp", "--no-via",
           "--no-server-push", f"--pid-file={os.path.join(workdir, 'nghttpx.pid')}"]
    cmd += [f"--backend=127.0.0.1,{w};;proto=h2" for w in workers]
    proc, _ = procs.start("nghttpx", cmd)
    wait_for_port(port, proc, "nghttpx")
    return port, proc.pid


def h2load(url, body_file, args, workdir, seconds_hint):
    """One h2load run: (req/s, succeeded, failed, [latency ms of each 2xx request])."""
    log = tempfile.mktemp(dir=workdir, suffix=".h2log")
    cmd = ["h2load", "-d", body_file, "-H", "content-type: application/json", "--log-file", log] + args + [url]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds_hint + 60).stdout
    except subprocess.TimeoutExpired:
        # A path that stalls: every request of the cell counts as failed, and the benchmark goes on.
        print(f"h2load did not finish against {url}; counting the cell as failed", file=sys.stderr)
        n = int(args[args.index("-n") + 1]) if "-n" in args else 0
        return 0.0, 0, n, []
    rate = re.search(r"finished in [\d.]+m?s, ([\d.]+) req/s", out)
    counts = re.search(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed", out)
    latencies = []
    if os.path.exists(log):
        with open(log) as f:
            for line in f:
                parts = line.split("\t")
                if len(parts) >= 3 and parts[1].startswith("2"):
                    latencies.append(int(parts[2]) / 1000.0)
        os.remove(log)
    if not rate or not counts:
        raise SystemExit(f"h2load gave no summary for {url}:\n{out[-2000:]}")
    return float(rate.group(1)), int(counts.group(1)), int(counts.group(2)), latencies


def pct(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))]


def measure_max(target, body_file, workdir, requests):
    """The maximum-throughput cell: req/s and p50 of a closed loop of CLIENTS × STREAMS (h1: 8 connections)."""
    conn = ["--h1", "-c", "8"] if target.get("h1") else ["-c", str(CLIENTS), "-m", str(STREAMS)]
    # Warm the connections and the hedge delay estimate first.
    h2load(target["url"], body_file, ["-n", "2000"] + conn, workdir, 30)
    rps, _, failed, lat = h2load(target["url"], body_file, ["-n", str(requests)] + conn, workdir, 60)
    return dict(max_rps=rps, max_p50=pct(lat, 50), failed=failed)


def measure_rate(target, body_file, workdir, rate, seconds):
    """An open loop at `rate` req/s for `seconds`: p50, p99 and the CPU each process group spent per answer."""
    clients = 8 if target.get("h1") else CLIENTS
    conn = ["--h1", "-c", "8"] if target.get("h1") else ["-c", str(CLIENTS), "-m", str(STREAMS)]
    per_client = max(1, round(rate / clients))
    before = {k: cpu_seconds(v) for k, v in target["pids"].items()}
    _, ok, failed, lat = h2load(target["url"], body_file, ["-n", str(per_client * clients * seconds), "--rps", str(per_client)] + conn,
                                workdir, seconds)
    cells = {f"cpu_{k}": (cpu_seconds(v) - before[k]) * 1e6 / max(1, ok) for k, v in target["pids"].items()}
    cells.update(p50=pct(lat, 50), p99=pct(lat, 99), failed=failed)
    return cells


def summary(values, fmt, worst=max):
    values = [v for v in values if v is not None and v == v]
    if not values:
        return "-"
    return f"{fmt.format(statistics.median(values))} ({fmt.format(worst(values))})"


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--binary", default=os.path.join(ROOT, ".build/release/hedgerow"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--requests", type=int, default=30000, help="requests of each maximum-throughput cell")
    ap.add_argument("--cpu-rate", type=int, default=2000, help="fixed rate of the CPU cells, req/s")
    ap.add_argument("--seconds", type=int, default=10, help="length of the fixed-rate cells")
    ap.add_argument("--only", default="direct,haproxy,nghttpx,hedgerow,hedgerow-h1",
                    help="comma-separated targets (also: mlserver-h1 with --mlserver)")
    ap.add_argument("--mlserver", action="store_true", help="also measure Seldon MLServer over HTTP/1.1 (builds its venv)")
    ap.add_argument("--spike", help="also measure the libnghttp2 spike (Benchmarks/proxy/nghttp2-spike), this binary")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs, configs)")
    args = ap.parse_args()
    for tool in ("h2load", "haproxy", "nghttpx"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is missing: run `make bench-tools`")
    only = args.only.split(",") + (["mlserver-h1"] if args.mlserver and "mlserver-h1" not in args.only else [])
    workdir = tempfile.mkdtemp(prefix="hedgerow-proxy-")
    body_file = os.path.join(workdir, "body.json")
    with open(body_file, "w") as f:
        f.write(digits_body())
    v2_body_file = os.path.join(workdir, "body-v2.json")
    with open(v2_body_file, "w") as f:
        f.write(digits_v2_body())
    procs = Processes(workdir)
    results = {}
    try:
        router, workers, router_pid, worker_pids = start_hedgerow(procs, args.binary, workdir)
        path = "/v1/models/digits:predict"
        targets = {"direct": {"url": f"http://127.0.0.1:{workers[0]}{path}", "pids": {"workers": [worker_pids[0]]}}}
        if "haproxy" in only:
            port, pid = start_haproxy(procs, workdir, workers)
            targets["haproxy"] = {"url": f"http://127.0.0.1:{port}{path}", "pids": {"proxy": [pid], "workers": worker_pids}}
        if "nghttpx" in only:
            port, pid = start_nghttpx(procs, workdir, workers)
            targets["nghttpx"] = {"url": f"http://127.0.0.1:{port}{path}", "pids": {"proxy": children(pid), "workers": worker_pids}}
        if args.spike:
            port = free_ports(1)[0]
            proc, _ = procs.start("spike", [args.spike, str(port)] + [str(w) for w in workers])
            wait_for_port(port, proc, "the nghttp2 spike")
            targets["nghttp2-spike"] = {"url": f"http://127.0.0.1:{port}{path}", "pids": {"proxy": [proc.pid], "workers": worker_pids}}
            only.append("nghttp2-spike")
        hedgerow = {"url": f"http://127.0.0.1:{router}{path}", "pids": {"proxy": [router_pid], "workers": worker_pids}}
        targets["hedgerow"] = hedgerow
        targets["hedgerow-h1"] = dict(hedgerow, h1=True, url=f"http://127.0.0.1:{router}/v2/models/digits/infer", body=v2_body_file)
        mlserver = None
        if "mlserver-h1" in only:
            sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
            import mlserver as ml  # noqa: E402
            venv = os.path.expanduser("~/.cache/hedgerow-bench/mlserver-venv")
            ml.ensure_venv(venv)
            http, grpc, metrics = free_ports(3)
            mlserver = ml.start(venv, os.path.join(workdir, "mlserver"), http, grpc, metrics, ROOT)
            procs.started.append(mlserver.proc)
            ml_body = os.path.join(workdir, "mlserver-body.json")
            with open(ml_body, "w") as f:
                f.write(mlserver.body)
            targets["mlserver-h1"] = {"url": mlserver.url, "pids": {"proxy": mlserver.pids()}, "h1": True, "body": ml_body}
        # HAProxy first: half its maximum is the moderate load of every other target in the same run.
        order = [t for t in ("haproxy", "direct", "nghttpx", "nghttp2-spike", "hedgerow", "hedgerow-h1", "mlserver-h1") if t in only and t in targets]
        for run in range(args.runs):
            cells = {name: measure_max(targets[name], targets[name].get("body", body_file), workdir, args.requests) for name in order}
            half = cells["haproxy"]["max_rps"] / 2 if "haproxy" in cells else cells[order[0]]["max_rps"] / 2
            for name in order:
                results.setdefault(name, []).append(cells[name])
                if name == "mlserver-h1":
                    continue  # it answers fewer than the fixed rates ask for: only its maximum is a fair cell
                body = targets[name].get("body", body_file)
                at_half = {"failed": 0}
                if not targets[name].get("h1"):  # HTTP/1.1 cells compare maxima only
                    at_half = measure_rate(targets[name], body, workdir, half, args.seconds)
                    cells[name].update(half_p50=at_half["p50"], half_p99=at_half["p99"])
                at_fixed = measure_rate(targets[name], body, workdir, args.cpu_rate, args.seconds)
                cells[name].update({k: v for k, v in at_fixed.items() if k.startswith("cpu_")})
                cells[name]["failed"] += at_half["failed"] + at_fixed["failed"]
                print(f"run {run + 1} {name}: " + ", ".join(f"{k} {v:.1f}" for k, v in cells[name].items()), file=sys.stderr, flush=True)
    finally:
        procs.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"work directory kept: {workdir}", file=sys.stderr)
    report(results, args)


def report(results, args):
    def col(name, key, fmt, worst=max):
        return summary([c.get(key) for c in results.get(name, [])], fmt, worst)

    print(f"\n{args.runs} runs; median (worst). POST of one digits row; h2 cells: /v1/models/digits:predict, h1 cells: "
          f"/v2/models/digits/infer (KServe v2, as MLServer). Max: h2load -n {args.requests} -c {CLIENTS} -m {STREAMS} (h1: --h1 -c 8). "
          f"Half load: --rps at half of HAProxy's max, {args.seconds} s. CPU: {args.cpu_rate} req/s for {args.seconds} s, "
          "utime+stime per answered request.\n")
    print("| path | max req/s | p50 at max, ms | p50 at half load, ms | p99 at half load, ms | proxy CPU µs/req | workers CPU µs/req | failed |")
    print("|---|---|---|---|---|---|---|---|")
    for name in results:
        print(f"| {name} | {col(name, 'max_rps', '{:.0f}', min)} | {col(name, 'max_p50', '{:.2f}')} | {col(name, 'half_p50', '{:.3f}')} "
              f"| {col(name, 'half_p99', '{:.3f}')} | {col(name, 'cpu_proxy', '{:.0f}')} | {col(name, 'cpu_workers', '{:.0f}')} "
              f"| {sum(c['failed'] for c in results[name])} |")
    if "haproxy" in results and "hedgerow" in results:
        ratios = [h["max_rps"] / a["max_rps"] for h, a in zip(results["hedgerow"], results["haproxy"])]
        p50 = [(h.get("half_p50", 0) - a.get("half_p50", 0)) * 1000 for h, a in zip(results["hedgerow"], results["haproxy"])]
        cpu = [h.get("cpu_proxy", 0) / max(1e-9, a.get("cpu_proxy", 0)) for h, a in zip(results["hedgerow"], results["haproxy"])]
        print(f"\nrouter / HAProxy max req/s: {summary(ratios, '{:.2f}', min)}; router p50 − HAProxy p50 at half load: "
              f"{summary(p50, '{:+.0f}')} µs; router / HAProxy CPU per request: {summary(cpu, '{:.2f}')}")
    if "mlserver-h1" in results and "hedgerow-h1" in results:
        ratios = [h["max_rps"] / m["max_rps"] for h, m in zip(results["hedgerow-h1"], results["mlserver-h1"])]
        print(f"Hedgerow / MLServer req/s over HTTP/1.1: {summary(ratios, '{:.1f}', min)}")


if __name__ == "__main__":
    main()
