"""A worker's resident memory against its loaded models' weights. See run.sh."""
import argparse, json, os, statistics, subprocess, sys, tempfile, threading, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "Benchmarks", "lib"))
from h2loadrun import free_ports, h2load  # noqa: E402
from upprocs import rss_mb  # noqa: E402

MODELS = ["recommender", "encoder"]
TOKEN = "memory-token"


def admin(port, method, path):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method, headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r) if method == "GET" else None


def body(model):
    """The model's reference rows as one KServe v2 request (its whole batch)."""
    with open(os.path.join(ROOT, "Models", model, "1", "reference.json")) as f:
        inputs = json.load(f)["inputs"]

    def flat(v):
        return [x for e in v for x in flat(e)] if isinstance(v, list) else [v]

    def shape(v):
        s = []
        while isinstance(v, list):
            s.append(len(v))
            v = v[0]
        return s
    types = {"recommender": "INT64"}
    return json.dumps({"inputs": [{"name": k, "shape": shape(v), "datatype": types.get(model, "FP32"), "data": flat(v)} for k, v in inputs.items()]})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=os.path.join(ROOT, ".build/release/hedgerow"))
    ap.add_argument("--seconds", type=int, default=20)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="memory-bench-")
    with open(os.path.join(work, "token"), "w") as f:
        f.write(TOKEN)
    (port,) = free_ports(1)
    worker = subprocess.Popen([os.path.abspath(args.binary), "worker", "--listen", f"127.0.0.1:{port}", "--name", "mem", "--admin-token-file",
                               os.path.join(work, "token"), "--repository", os.path.join(ROOT, "Models")],
                              stdout=open(os.path.join(work, "worker.log"), "w"), stderr=subprocess.STDOUT)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        empty = rss_mb(worker.pid)
        for m in MODELS:
            admin(port, "PUT", f"/admin/models/{m}/versions/1")
        deadline = time.time() + 60
        while time.time() < deadline:
            state = admin(port, "GET", "/admin/state")
            versions = [v for v in state.get("models", state) if isinstance(v, dict)] if isinstance(state, dict) else state
            if sum(1 for v in versions if v.get("state") == "AVAILABLE") == len(MODELS):
                break
            time.sleep(0.2)
        weights = sum(v.get("memoryBytes", 0) for v in versions) / 2**20
        loaded = rss_mb(worker.pid)
        samples, stop = [], threading.Event()

        def sample():
            while not stop.is_set():
                samples.append(rss_mb(worker.pid))
                time.sleep(0.25)
        sampler = threading.Thread(target=sample)
        sampler.start()
        runs = []
        for m in MODELS:
            path = os.path.join(work, f"{m}.json")
            with open(path, "w") as f:
                f.write(body(m))
            runs.append(threading.Thread(target=lambda m=m, path=path: h2load(f"http://127.0.0.1:{port}/v2/models/{m}/infer", path,
                                                                           ["-D", str(args.seconds), "-c", "4", "-m", "8"], os.path.join(work, f"{m}.log"))))
        for t in runs:
            t.start()
        for t in runs:
            t.join()
        stop.set()
        sampler.join()
        answered = {m: sum(1 for line in open(os.path.join(work, f"{m}.log")) if line.split("\t")[1] == "200") for m in MODELS}
        steady = [s for s in samples[len(samples) // 4:] if s]
        print(f"worker with {', '.join(MODELS)} loaded: weights {weights:.1f} MiB (the models' initializers, as the worker reports them)")
        print(f"  RSS empty {empty:.1f} MiB; loaded, idle {loaded:.1f} MiB")
        print(f"  under load ({args.seconds} s, h2load -c 4 -m 8 per model, each request the model's reference batch; "
              + ", ".join(f"{m} {n / args.seconds:,.0f} req/s" for m, n in answered.items()) + ")")
        print(f"  RSS median {statistics.median(steady):.1f} MiB, max {max(steady):.1f} MiB over {len(steady)} samples after the first quarter")
        print(f"  goal: RSS <= weights + 64 MiB = {weights + 64:.1f} MiB -> {'met' if max(steady) <= weights + 64 else 'NOT met'} "
              f"(max - weights = {max(steady) - weights:.1f} MiB)")
    finally:
        worker.terminate()
        worker.wait(30)


if __name__ == "__main__":
    main()
