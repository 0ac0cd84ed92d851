"""Drives `hedgerow up` past its capacity with h2load and reports what clients got. See run.sh."""
import argparse, json, os, shutil, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "Benchmarks", "lib"))
from h2loadrun import free_ports, h2load  # noqa: E402
from upprocs import pct, roles, rss_mb, stop  # noqa: E402


def encoder_body():
    ref = json.load(open(os.path.join(ROOT, "Models/encoder/1/reference.json")))
    name, value = next(iter(ref["inputs"].items()))
    data = value["data"] if isinstance(value, dict) else value
    flat = []

    def walk(x):
        if isinstance(x, list):
            for y in x:
                walk(y)
        else:
            flat.append(x)
    walk(data)
    row = flat[: 16 * 64]
    return json.dumps({"inputs": [{"name": name, "shape": [1, 16, 64], "datatype": "FP32", "data": row}]})


class Cluster:
    def __init__(self, binary, workdir, queue_ms):
        self.router, self.sync, base, _ = free_ports(4)
        self.base = base
        cfg = os.path.join(workdir, "desired-state.yaml")
        with open(cfg, "w") as f:
            f.write(f"repository: {ROOT}/Models\nmodels:\n  - name: encoder\n    versions: {{ latest: 1 }}\n    replicas: 2\n")
        self.out = open(os.path.join(workdir, f"up-{queue_ms}.log"), "w+")
        self.proc = subprocess.Popen(
            [binary, "up", "--config", cfg, "--workers", "2", "--router-port", str(self.router), "--sync-port", str(self.sync),
             "--worker-base-port", str(base), f"--worker-argument=--max-queue-delay-ms={queue_ms}"],
            stdout=self.out, stderr=subprocess.STDOUT, cwd=ROOT)
        deadline = time.time() + 120
        while time.time() < deadline:
            self.out.seek(0)
            if "Hedgerow is up." in self.out.read():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        raise SystemExit("hedgerow up did not become ready")

    def pids(self):
        return roles(self.proc.pid)

    def stop(self):
        stop(self.proc)



def measure(binary, seconds, queue_ms, rate, workdir, body_file):
    """One fresh cluster: closed loop (rate None) or open loop at `rate`; what clients got, peak RSS, who is up."""
    cluster = Cluster(binary, workdir, queue_ms)
    url = f"http://127.0.0.1:{cluster.router}/v2/models/encoder/infer"
    try:
        pids = cluster.pids()
        peak = {name: rss_mb(pid) or 0 for name, pid in pids.items()}
        h2load(url, body_file, ["-D", "3", "-c", "4", "-m", "4"], tempfile.mktemp(prefix="warm-", suffix=".log", dir=workdir))
        # h2load appends to an existing log file: every measurement gets a fresh one.
        log = tempfile.mktemp(prefix=f"run-{queue_ms}-{rate}-", suffix=".log", dir=workdir)
        if rate is None:
            args = ["-D", str(seconds), "-c", "8", "-m", "4"]
        else:
            clients = 8
            args = ["-D", str(seconds), "-c", str(clients), "-m", "64", "--rps", str(max(1, rate // clients))]
        import threading
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                for name, pid in pids.items():
                    peak[name] = max(peak[name], rss_mb(pid) or 0)
                stop.wait(0.5)
        t = threading.Thread(target=sample)
        t.start()
        _, rows = h2load(url, body_file, args, log)
        stop.set()
        t.join()
        alive = all(os.path.exists(f"/proc/{pid}") for pid in pids.values())
        ok = [ms for status, ms in rows if status == 200]
        shed = sum(1 for status, _ in rows if status in (503, 429))
        other = len(rows) - len(ok) - shed
        return {"goodput": len(ok) / seconds, "p50": pct(ok, 50), "p99": pct(ok, 99), "shed": shed, "other": other,
                "sent": len(rows) / seconds, "rss": peak, "alive": alive}
    finally:
        cluster.stop()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--runs", type=int, default=3)
    a = parser.parse_args()
    if not shutil.which("h2load"):
        raise SystemExit("h2load is missing: make bench-tools")
    workdir = tempfile.mkdtemp(prefix="hedgerow-overload-")
    body_file = os.path.join(workdir, "body.json")
    with open(body_file, "w") as f:
        f.write(encoder_body())
    # Each run: capacity (closed loop, admission control off: with it on, a closed loop measures how fast refusals
    # come back), then twice that rate open loop with admission control on and off, each on a fresh cluster. Cells
    # are shares of the same run's capacity, so runs on a noisy machine stay comparable.
    cells = {100: [], 0: []}
    for run in range(a.runs):
        capacity = measure(a.binary, a.seconds, 0, None, workdir, body_file)["goodput"]
        rate = int(2 * capacity)
        print(f"run {run + 1}: capacity {capacity:.0f} req/s (h2load -c 8 -m 4, closed loop); open loop at {rate} req/s (h2load -c 8 --rps {rate // 8})", flush=True)
        for queue_ms in (100, 0):
            result = measure(a.binary, a.seconds, queue_ms, rate, workdir, body_file)
            result["share"] = result["goodput"] / capacity * 100
            cells[queue_ms].append(result)
    print()
    print("| admission control | goodput, % of capacity: median / worst | p50 ms | p99 ms: median / worst | shed 503 per run | other failures | peak RSS MB | all up |")
    print("|---|---|---|---|---|---|---|---|")
    for queue_ms in (100, 0):
        runs = cells[queue_ms]
        share = sorted(c["share"] for c in runs)
        p99 = sorted(c["p99"] for c in runs)
        rss = {}
        for c in runs:
            for name, mb in c["rss"].items():
                rss[name] = max(rss.get(name, 0), mb)
        rss_text = ", ".join(f"{name.split()[-1]} {mb:.0f}" for name, mb in sorted(rss.items()))
        label = f"on (--max-queue-delay-ms {queue_ms})" if queue_ms else "off (0)"
        print(f"| {label} | {statistics.median(share):.0f}% / {share[0]:.0f}% | {statistics.median(c['p50'] for c in runs):.1f} | "
              f"{statistics.median(p99):.1f} / {p99[-1]:.1f} | {sum(c['shed'] for c in runs) // len(runs)} | "
              f"{sum(c['other'] for c in runs)} | {rss_text} | {all(c['alive'] for c in runs)} |")
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
