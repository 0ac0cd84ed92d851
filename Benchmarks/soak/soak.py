"""Soak: `hedgerow up` serving every example model under mixed traffic for a long time, with a worker killed
(SIGKILL) and restarted by `up` every few minutes and the desired state edited every minute. RSS of every role is
sampled every 10 s. It fails (exit 1) on any good request that did not get 200 (a 503 with Retry-After counts as
expected overload, and is reported), on a bad request that did not get a 4xx, on a role that is not running at
the end, and on a rising RSS trend past 5 % over the second half of any role's last process (runs of 10 minutes or more).

    python3 Benchmarks/soak/soak.py --binary .build/release/hedgerow --minutes 30     # Benchmarks/soak/run.sh
    python3 Benchmarks/soak/soak.py --binary .build/debug/hedgerow --minutes 2        # make test: events scaled down

Standard library only; HTTP/1.1 to the router on loopback; every loop bounded by the deadline.
"""
import argparse, http.client, json, os, random, signal, socket, statistics, subprocess, sys, tempfile, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "Benchmarks", "lib"))
from upprocs import roles, rss_mb  # noqa: E402


def free_port(taken):
    while True:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        if port not in taken and all(p not in taken for p in range(port, port + 4)):
            return port


def flat(x):
    out = []
    stack = [x]
    while stack:
        v = stack.pop()
        if isinstance(v, list):
            stack.extend(reversed(v))
        else:
            out.append(v)
    return out


def requests_for_models():
    """(name, method, path, body, expect) for good requests of every example model, in both API styles."""
    good = []
    digits = json.load(open(os.path.join(ROOT, "Models/digits/testset.json")))["inputs"]
    for row in digits[:16]:
        good.append(("digits tf", "/v1/models/digits:predict", json.dumps({"instances": [row]})))
        good.append(("digits v2", "/v2/models/digits/infer",
                     json.dumps({"inputs": [{"name": "input", "shape": [1, 64], "datatype": "FP32", "data": row}]})))
    cnn = json.load(open(os.path.join(ROOT, "Models/digits-cnn/1/reference.json")))["inputs"]["images"]
    for image in cnn[:8]:
        good.append(("digits-cnn v2", "/v2/models/digits-cnn/infer",
                     json.dumps({"inputs": [{"name": "images", "shape": [1, 1, 8, 8], "datatype": "FP32", "data": flat(image)}]})))
        good.append(("digits-cnn tf", "/v1/models/digits-cnn:predict", json.dumps({"instances": [image]})))
    rec = json.load(open(os.path.join(ROOT, "Models/recommender/1/reference.json")))["inputs"]
    for u, i in zip(rec["user"][:8], rec["item"][:8]):
        good.append(("recommender v2", "/v2/models/recommender/infer", json.dumps({"inputs": [
            {"name": "user", "shape": [1], "datatype": "INT64", "data": [u]},
            {"name": "item", "shape": [1], "datatype": "INT64", "data": [i]}]})))
    enc = json.load(open(os.path.join(ROOT, "Models/encoder/1/reference.json")))["inputs"]["tokens"]
    for t in enc:
        good.append(("encoder v2", "/v2/models/encoder/infer",
                     json.dumps({"inputs": [{"name": "tokens", "shape": [1, 16, 64], "datatype": "FP32", "data": flat(t)}]})))
    bad = [
        ("malformed json", "/v2/models/digits/infer", "{not json"),
        ("shape overflow", "/v2/models/digits/infer",
         json.dumps({"inputs": [{"name": "input", "shape": [4611686018427387904, 4], "datatype": "FP32", "data": [1]}]})),
        ("wrong shape", "/v1/models/digits:predict", json.dumps({"instances": [[0.5] * 10]})),
        ("unknown model", "/v1/models/nothere:predict", json.dumps({"instances": [[0.5] * 64]})),
        ("id out of table", "/v2/models/recommender/infer", json.dumps({"inputs": [
            {"name": "user", "shape": [1], "datatype": "INT64", "data": [100000]},
            {"name": "item", "shape": [1], "datatype": "INT64", "data": [1]}]})),
        ("deep nesting", "/v1/models/digits:predict", "[" * 100000 + "]" * 100000),
    ]
    return good, bad


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.ok = 0
        self.shed = 0
        self.bad_ok = 0
        self.failures = []

    def record_failure(self, what):
        with self.lock:
            if len(self.failures) < 50:
                self.failures.append(what)
            else:
                self.failures[-1] = what


def client(port, good, bad, stats, deadline, seed):
    rnd = random.Random(seed)
    conn = None
    while time.time() < deadline:
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        is_bad = rnd.random() < 0.05
        name, path, body = rnd.choice(bad if is_bad else good)
        try:
            conn.request("POST", path, body=body, headers={"content-type": "application/json"})
            response = conn.getresponse()
            text = response.read()
            status = response.status
        except (OSError, http.client.HTTPException) as e:
            stats.record_failure(f"{name}: transport error {e!r}")
            conn.close()
            conn = None
            time.sleep(0.05)
            continue
        with stats.lock:
            if is_bad:
                if 400 <= status < 500:
                    stats.bad_ok += 1
                else:
                    stats.failures.append(f"bad request '{name}' answered {status}: {text[:200]!r}")
            elif status == 200:
                stats.ok += 1
            elif status == 503 and response.getheader("retry-after"):
                stats.shed += 1
            else:
                stats.failures.append(f"{name} answered {status}: {text[:200]!r}")
        if response.getheader("connection", "").lower() == "close":
            conn.close()
            conn = None


def rss_trends(samples, roles_expected):
    """Per role, the RSS growth of its last process over the second half of its life since its last step (a jump of
    10 % or more in one sample: models placed on or taken off it), from a least-squares line (start to end, % of the
    start). A restarted worker starts small and loads its models, and a placement change moves models between
    workers, so neither a role across restarts nor two single samples say whether memory creeps; a leak is a climb
    without such steps. Roles with less than 4 minutes since their last step are not judged."""
    trends = {}
    for name in sorted(roles_expected):
        points = [(t, roles[name]) for t, roles in samples if name in roles and roles[name][1]]
        if not points:
            continue
        last_pid = points[-1][1][0]
        life = [(t, rss) for t, (pid, rss) in points if pid == last_pid]
        # Models loaded or unloaded show as a step of 10 % or more in one sample: judge what follows the last one.
        steps = [i for i in range(1, len(life)) if abs(life[i][1] / life[i - 1][1] - 1) >= 0.10]
        if steps:
            life = life[steps[-1]:]
        if len(life) < 10 or life[-1][0] - life[0][0] < 240:
            continue
        half = life[len(life) // 2:]
        ts = [t for t, _ in half]
        ys = [rss for _, rss in half]
        mt, my = statistics.mean(ts), statistics.mean(ys)
        slope = sum((t - mt) * (y - my) for t, y in half) / max(1e-9, sum((t - mt) ** 2 for t in ts))
        start = my + slope * (ts[0] - mt)
        end = my + slope * (ts[-1] - mt)
        trends[name] = (end / start - 1) * 100
    return trends


def write_config(path, repository, variant):
    """The desired state; `variant` flips what a user edits day to day (replicas, batching)."""
    cnn_replicas = 2 if variant % 2 == 0 else 1
    delay = [0, 200, 500][variant % 3]
    text = f"""repository: {repository}
defaults:
  replicas: 2
  hedging: {{ percentile: 95, budgetPercent: 5, minDelayMs: 1, maxDelayMs: 1000 }}
models:
  - name: digits
    versions: {{ latest: 1 }}
    labels: {{ stable: 1 }}
  - name: digits-cnn
    versions: {{ latest: 1 }}
    replicas: {cnn_replicas}
  - name: recommender
    versions: {{ latest: 1 }}
    batching: {{ maxBatchSize: 32, maxDelayMicros: {delay} }}
  - name: encoder
    versions: {{ latest: 1 }}
"""
    tmp = path + ".incoming"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--kill-every", type=float, help="seconds between worker kills (default: 300, or a third of the run)")
    parser.add_argument("--edit-every", type=float, help="seconds between YAML edits (default: 60, or an eighth of the run)")
    a = parser.parse_args()
    seconds = a.minutes * 60
    kill_every = a.kill_every or min(300.0, seconds / 3)
    edit_every = a.edit_every or min(60.0, seconds / 8)
    work = tempfile.mkdtemp(prefix="hedgerow-soak-")
    config = os.path.join(work, "desired-state.yaml")
    write_config(config, os.path.join(ROOT, "Models"), 0)
    taken = set()
    router = free_port(taken); taken.add(router)
    sync = free_port(taken); taken.add(sync)
    base = free_port(taken | {router, sync})
    log = open(os.path.join(work, "up.log"), "w+")
    up = subprocess.Popen([os.path.abspath(a.binary), "up", "--config", config, "--workers", str(a.workers), "--router-port", str(router),
                           "--sync-port", str(sync), "--worker-base-port", str(base)], stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    failed = []
    try:
        ready_deadline = time.time() + 180
        while time.time() < ready_deadline:
            log.seek(0)
            if "Hedgerow is up." in log.read():
                break
            if up.poll() is not None:
                raise SystemExit("hedgerow up exited before it was ready")
            time.sleep(0.2)
        else:
            raise SystemExit("hedgerow up was not ready within 180 s")
        print(f"soak: {a.minutes} min, {a.workers} workers, {a.clients} clients, a worker killed every {kill_every:.0f} s, "
              f"a YAML edit every {edit_every:.0f} s, RSS every 10 s", flush=True)
        good, bad = requests_for_models()
        stats = Stats()
        start = time.time()
        deadline = start + seconds
        threads = [threading.Thread(target=client, args=(router, good, bad, stats, deadline, i)) for i in range(a.clients)]
        for t in threads:
            t.start()
        samples = []  # (t, {role: (pid, rss)})
        next_kill, next_edit, next_sample, variant, kills = start + kill_every, start + edit_every, start, 0, 0
        while time.time() < deadline:
            now = time.time()
            if now >= next_sample:
                current = roles(up.pid)
                samples.append((now - start, {name: (pid, rss_mb(pid)) for name, pid in current.items()}))
                with stats.lock:
                    print(f"soak: t={now - start:5.0f}s ok={stats.ok} shed={stats.shed} bad-refused={stats.bad_ok} failures={len(stats.failures)} "
                          + " ".join(f"{n.split()[-1]}={v[1]:.0f}MB" for n, v in sorted(samples[-1][1].items()) if v[1]), flush=True)
                next_sample += 10
            if now >= next_kill:
                current = roles(up.pid)
                workers = sorted(n for n in current if n.startswith("worker"))
                if workers:
                    victim = workers[kills % len(workers)]
                    os.kill(current[victim], signal.SIGKILL)
                    kills += 1
                    print(f"soak: t={now - start:.0f}s killed {victim} (pid {current[victim]})", flush=True)
                next_kill += kill_every
            if now >= next_edit:
                variant += 1
                write_config(config, os.path.join(ROOT, "Models"), variant)
                next_edit += edit_every
            time.sleep(0.2)
        for t in threads:
            t.join(60)
        current = roles(up.pid)
        expected = {"synchronizer", "router"} | {f"worker w{i}" for i in range(1, a.workers + 1)}
        missing = expected - set(current)
        growth = rss_trends(samples, expected)
        print(f"\nsoak result: {stats.ok} good requests answered 200, {stats.shed} shed with 503 + Retry-After, "
              f"{stats.bad_ok} bad requests refused with 4xx, {len(stats.failures)} failures; {kills} workers killed, {variant} YAML edits")
        print("RSS trend over the second half of each role's last process (fitted line, start to end): "
              + (", ".join(f"{n} {g:+.1f}%" for n, g in growth.items()) or "none judged (no role ran 4 minutes without a step)"))
        restarts = open(os.path.join(work, "up.log")).read().count("hedgerow up: restarted worker")
        print(f"restarts by up: {restarts}; roles running at the end: {', '.join(sorted(current))}")
        if stats.failures:
            failed.append(f"{len(stats.failures)} failed requests, e.g. " + "; ".join(stats.failures[:5]))
        if missing:
            failed.append(f"not running at the end: {', '.join(sorted(missing))}")
        if up.poll() is not None:
            failed.append("hedgerow up itself exited")
        if restarts < kills:
            failed.append(f"{kills} kills but {restarts} restarts")
        grown = {n: g for n, g in growth.items() if g > 5}
        if grown and seconds >= 600:
            failed.append("RSS grew more than 5 %: " + ", ".join(f"{n} {g:+.1f}%" for n, g in grown.items()))
        elif grown:
            print("(RSS is judged on runs of 10 minutes or more; this one is too short to tell a trend)")
        if stats.ok == 0:
            failed.append("no good request was answered")
    finally:
        up.send_signal(signal.SIGTERM)
        try:
            up.wait(30)
        except subprocess.TimeoutExpired:
            up.kill()
    if failed:
        print("soak FAILED: " + " | ".join(failed))
        log.seek(0)
        print("last lines of hedgerow up:\n" + "".join(log.readlines()[-30:]))
        sys.exit(1)
    print("soak passed")


if __name__ == "__main__":
    main()
