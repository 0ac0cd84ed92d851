"""Stable's latency with canary mirroring off, 20 % and 100 %, on one `hedgerow up`. See run.sh."""
import argparse, json, os, re, shutil, statistics, subprocess, sys, tempfile, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "Benchmarks", "lib"))
from h2loadrun import free_ports, h2load  # noqa: E402
from upprocs import pct, stop  # noqa: E402

MIRRORS = (0, 20, 100)



class Cluster:
    """`hedgerow up` over a scratch repository holding digits v1 and a copy of it as v2."""

    def __init__(self, binary, workdir):
        self.router, self.sync, base, _ = free_ports(4)
        repo = os.path.join(workdir, "Models")
        for version in ("1", "2"):
            shutil.copytree(os.path.join(ROOT, "Models/digits/1"), os.path.join(repo, "digits", version))
        self.repo = repo
        self.config = os.path.join(workdir, "desired-state.yaml")
        self.write(0)
        self.out = open(os.path.join(workdir, "up.log"), "w+")
        self.proc = subprocess.Popen(
            [binary, "up", "--config", self.config, "--workers", "2", "--router-port", str(self.router), "--sync-port", str(self.sync),
             "--worker-base-port", str(base)], stdout=self.out, stderr=subprocess.STDOUT, cwd=workdir)
        deadline = time.time() + 120
        while time.time() < deadline:
            self.out.seek(0)
            if "Hedgerow is up." in self.out.read():
                self.wait_for(0)
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        raise SystemExit("hedgerow up did not become ready")

    def write(self, mirror):
        canary = f"    canary: {{ version: 2, mirrorPercent: {mirror}, abort: {{ minSamples: 10000000 }} }}\n" if mirror else ""
        with open(self.config + ".tmp", "w") as f:
            f.write(f"repository: {self.repo}\nmodels:\n  - name: digits\n    versions: {{ specific: [1, 2] }}\n"
                    f"    labels: {{ stable: 1 }}\n    replicas: 2\n{canary}")
        os.replace(self.config + ".tmp", self.config)

    def wait_for(self, mirror):
        """Until the router's table has both versions on both workers and the canary block asked for."""
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                table = json.load(urllib.request.urlopen(f"http://127.0.0.1:{self.router}/v1/routes", timeout=2))
                digits = table["models"]["digits"]
                canary = digits.get("canary")
                if all(len(digits["versions"].get(v, [])) == 2 for v in ("1", "2")) and \
                        ((canary or {}).get("mirrorPercent", 0) == mirror) and (mirror == 0 or canary):
                    return
            except Exception:
                pass
            time.sleep(0.2)
        raise SystemExit(f"the router never routed mirrorPercent {mirror}")

    def set_mirror(self, mirror):
        self.write(mirror)
        self.wait_for(mirror)

    def mirrors_sent(self):
        text = urllib.request.urlopen(f"http://127.0.0.1:{self.router}/metrics", timeout=5).read().decode()
        m = re.search(r'hedgerow_router_canary_mirrors_total\{model="digits",candidate="2",result="sent"\} (\S+)', text)
        return float(m.group(1)) if m else 0.0

    def stop(self):
        stop(self.proc)


def h2load_cell(cluster, url, body_file, seconds, rate, workdir):
    clients = 4
    log = tempfile.mktemp(prefix="run-", suffix=".log", dir=workdir)
    _, rows = h2load(url, body_file, ["-D", str(seconds), "-c", str(clients), "-m", "16", "--rps", str(max(1, rate // clients))], log)
    ok = [ms for status, ms in rows if status == 200]
    return {"p50": pct(ok, 50), "p99": pct(ok, 99), "failed": len(rows) - len(ok), "rate": len(ok) / seconds}


def own_cell(binary, cluster, body_file, seconds, rate):
    out = subprocess.run([binary, "bench", "--target", f"127.0.0.1:{cluster.router}", "--path", "/v2/models/digits/infer",
                          "--body-file", body_file, "--rate", str(rate), "--seconds", str(seconds)],
                         capture_output=True, text=True, timeout=seconds + 60, cwd=ROOT).stdout
    row = [line for line in out.splitlines() if line.startswith("| - |")]
    cells = [c.strip() for c in row[0].strip("|").split("|")] if row else []
    if len(cells) < 9:
        raise SystemExit(f"cannot read hedgerow bench output:\n{out}")
    return {"rate": float(cells[2]), "p50": float(cells[3]), "p99": float(cells[5]), "failed": int(cells[8])}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rate", type=int, default=0)
    a = parser.parse_args()
    a.binary = os.path.abspath(a.binary)
    if not shutil.which("h2load"):
        raise SystemExit("h2load is missing: make bench-tools")
    workdir = tempfile.mkdtemp(prefix="hedgerow-canary-")
    ref = json.load(open(os.path.join(ROOT, "Models/digits/1/reference.json")))
    row = ref["inputs"]["input"][0]
    body_file = os.path.join(workdir, "body.json")
    with open(body_file, "w") as f:
        json.dump({"inputs": [{"name": "input", "shape": [1, len(row)], "datatype": "FP32", "data": row}]}, f)
    cluster = Cluster(a.binary, workdir)
    url = f"http://127.0.0.1:{cluster.router}/v2/models/digits/infer"
    try:
        h2load(url, body_file, ["-D", "3", "-c", "4", "-m", "8"], tempfile.mktemp(prefix="warm-", suffix=".log", dir=workdir))
        rate = a.rate
        if rate <= 0:
            summary, rows = h2load(url, body_file, ["-D", "5", "-c", "8", "-m", "8"], tempfile.mktemp(prefix="cap-", suffix=".log", dir=workdir))
            capacity = sum(1 for status, _ in rows if status == 200) / 5
            # A quarter of capacity, at most 3,000 req/s (what `hedgerow bench`'s single-threaded generator holds).
            rate = max(50, min(3000, int(capacity * 0.25)))
            print(f"closed-loop capacity with mirroring off: {capacity:.0f} req/s (h2load -c 8 -m 8); measuring open loop at {rate} req/s", flush=True)
        cells = {(gen, m): [] for gen in ("h2load", "hedgerow bench") for m in MIRRORS}
        for run in range(a.runs):
            for mirror in MIRRORS:
                cluster.set_mirror(mirror)
                before = cluster.mirrors_sent()
                h = h2load_cell(cluster, url, body_file, a.seconds, rate, workdir)
                h["mirrored"] = (cluster.mirrors_sent() - before) / a.seconds
                cells[("h2load", mirror)].append(h)
                before = cluster.mirrors_sent()
                o = own_cell(a.binary, cluster, body_file, a.seconds, rate)
                o["mirrored"] = (cluster.mirrors_sent() - before) / a.seconds
                cells[("hedgerow bench", mirror)].append(o)
                print(f"run {run + 1} mirror {mirror:>3}%: h2load p50 {h['p50']:.2f} p99 {h['p99']:.2f} ms ({h['mirrored']:.0f} mirrors/s); "
                      f"hedgerow bench p50 {o['p50']:.2f} p99 {o['p99']:.2f} ms", flush=True)
        print()
        print(f"Stable's latency at {rate} req/s open loop, {a.seconds} s per cell, {a.runs} runs (median / worst):")
        print()
        print("| load generator | mirroring | stable p50 ms | stable p99 ms | p99 vs off (median) | mirrors sent/s | failed requests |")
        print("|---|---|---|---|---|---|---|")
        for gen in ("h2load", "hedgerow bench"):
            off = statistics.median(c["p99"] for c in cells[(gen, 0)])
            for mirror in MIRRORS:
                runs = cells[(gen, mirror)]
                p50 = sorted(c["p50"] for c in runs)
                p99 = sorted(c["p99"] for c in runs)
                print(f"| {gen} | {'off' if mirror == 0 else f'{mirror}%'} | {statistics.median(p50):.2f} / {p50[-1]:.2f} | "
                      f"{statistics.median(p99):.2f} / {p99[-1]:.2f} | {statistics.median(p99) / off:.2f}× | "
                      f"{statistics.median(c['mirrored'] for c in runs):.0f} | {sum(c['failed'] for c in runs)} |")
    finally:
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
