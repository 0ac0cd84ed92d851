"""The ranker served split over 4 shards against unsplit on one worker, and the split one with a shard replica
stalled, lookup hedging on against off, in one run.

Writes the ranker (Models/ranker/make_ranker.py: by default 1,000,000 users and 200,000 items of 32 floats, 147 MiB
of tables in external data), then for each setup starts `hedgerow up` (release build, three workers) with it:

  unsplit   the ranker whole, one replica on one worker
  split     sharding 4 shards x 2 replicas by mod, one entry replica

Each setup is driven through the router with h2load (closed loop, 8 connections x 4 streams: req/s, p50, p99) and
with `hedgerow bench` (open loop at --rate: p50, p99 from each request's intended send time), in rounds. The split
setup is then measured again with one worker that holds shard replicas but not the entry stopped for 50 ms every
500 ms (SIGSTOP/SIGCONT), with the model's hedging on (its default) and off (`hedging: { budgetPercent: 0 }`, which
the entry's lookups follow). Every request asks for 8 users and 8 items (ids on every shard). Prints Markdown
tables, median [worst] of the rounds.
"""
import argparse, os, shutil, signal, statistics, subprocess, sys, tempfile, threading, time, json, urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from h2loadrun import free_ports, h2load  # noqa: E402
from upprocs import pct, roles, stop  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def config(repository, sharded, hedging_off):
    lines = [f"repository: {repository}", "models:", "  - name: ranker", "    versions: { latest: 1 }", "    replicas: 1"]
    if sharded:
        lines.append("    sharding: { tables: [user_emb, item_emb], shards: 4, by: mod, replicas: 2 }")
    if hedging_off:
        lines.append("    hedging: { budgetPercent: 0 }")
    return "\n".join(lines) + "\n"


def state(sync_port):
    with urllib.request.urlopen(f"http://127.0.0.1:{sync_port}/v1/state", timeout=10) as answer:
        return json.load(answer)


class Up:
    """A `hedgerow up` with the given desired state, stopped on exit."""

    def __init__(self, binary, work, name, text):
        self.config = os.path.join(work, f"{name}.yaml")
        with open(self.config, "w") as f:
            f.write(text)
        self.router, self.sync, base = free_ports(3)
        self.log_path = os.path.join(work, f"{name}-up.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([binary, "up", "--config", self.config, "--workers", "3", "--router-port", str(self.router),
                                      "--sync-port", str(self.sync), "--worker-base-port", str(base)], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 300
        while "Hedgerow is up." not in open(self.log_path).read():
            if self.proc.poll() is not None or time.time() > deadline:
                raise SystemExit(f"hedgerow up ({name}) did not come up:\n" + open(self.log_path).read()[-3000:])
            time.sleep(0.5)
        self.pids = roles(self.proc.pid)

    def holders(self, model):
        for version in state(self.sync)["versions"]:
            if version["model"] == model:
                return [r["worker"] for r in version["replicas"] if r["state"] == "AVAILABLE"]
        return []

    def stop(self):
        stop(self.proc)


class Staller:
    """Stops a process for `stall` seconds every `period` seconds until told to end."""

    def __init__(self, pid, stall=0.05, period=0.5):
        self.pid, self.stall, self.period = pid, stall, period
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.done.is_set():
            os.kill(self.pid, signal.SIGSTOP)
            time.sleep(self.stall)
            os.kill(self.pid, signal.SIGCONT)
            self.done.wait(self.period - self.stall)

    def end(self):
        self.done.set()
        self.thread.join()
        os.kill(self.pid, signal.SIGCONT)


def closed(work, port, body, seconds, tag):
    url = f"http://127.0.0.1:{port}/v2/models/ranker/infer"
    h2load(url, body, ["-c", "8", "-m", "4", "-t", "1", "-D", "1"], os.path.join(work, f"warm-{tag}.log"))
    summary, rows = h2load(url, body, ["-c", "8", "-m", "4", "-t", "1", "-D", str(seconds)], os.path.join(work, f"run-{tag}.log"))
    good = [ms for status, ms in rows if status == 200]
    return len(good) / seconds, pct(good, 50), pct(good, 99), len(rows) - len(good)


def opened(binary, port, body, rate, seconds):
    cmd = [binary, "bench", "--target", f"127.0.0.1:{port}", "--path", "/v2/models/ranker/infer", "--body-file", body,
           "--rate", str(rate), "--seconds", str(seconds)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60).stdout
    row = [line for line in out.splitlines() if line.startswith("| - |")]
    if not row:
        raise SystemExit(f"hedgerow bench printed no result:\n{out}")
    cells = [c.strip() for c in row[0].strip("|").split("|")]
    return float(cells[2]), float(cells[3]), float(cells[5]), int(cells[8])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build/release/hedgerow"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rate", type=int, default=300, help="open-loop req/s")
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--dim", type=int, default=32)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="hedgerow-sharding-bench-")
    repository = os.path.join(work, "Models")
    try:
        subprocess.run([sys.executable, os.path.join(ROOT, "Models/ranker/make_ranker.py"), "--repository", repository,
                        "--users", str(args.users), "--items", str(args.items), "--dim", str(args.dim)], check=True)
        body = os.path.join(work, "body.json")
        with open(body, "w") as f:
            ids = [7, 100_001, 2, 3, 999_999 % args.users, 5, 6, 12_345 % args.users]
            json.dump({"inputs": [{"name": "user", "shape": [8], "datatype": "INT64", "data": ids},
                                  {"name": "item", "shape": [8], "datatype": "INT64", "data": [i % args.items for i in reversed(ids)]}]}, f)
        results = {}
        for name, sharded in (("unsplit", False), ("split", True)):
            up = Up(args.binary, work, name, config(repository, sharded, hedging_off=False))
            try:
                placement = {m: up.holders(m) for m in ["ranker"] + ([f"ranker.ps-{k}" for k in range(4)] if sharded else [])}
                print(f"{name}: {placement}", file=sys.stderr)
                for r in range(args.rounds):
                    results.setdefault((name, "closed"), []).append(closed(work, up.router, body, args.seconds, f"{name}-{r}"))
                    results.setdefault((name, "open"), []).append(opened(args.binary, up.router, body, args.rate, args.seconds))
            finally:
                up.stop()
        stalled = {}
        for hedging in ("on", "off"):
            up = Up(args.binary, work, f"stall-{hedging}", config(repository, True, hedging_off=hedging == "off"))
            try:
                entry = set(up.holders("ranker"))
                shard_holders = {w for k in range(4) for w in up.holders(f"ranker.ps-{k}")}
                victims = sorted(shard_holders - entry)
                if not victims:
                    raise SystemExit(f"every worker holding shards also holds the entry: {entry}")
                victim = victims[0]
                held = [k for k in range(4) if victim in up.holders(f"ranker.ps-{k}")]
                print(f"stall-{hedging}: entry on {sorted(entry)}, stalling {victim} (shards {held})", file=sys.stderr)
                opened(args.binary, up.router, body, args.rate, 2)  # warm-up: the shards' latency windows fill
                for _ in range(args.rounds):
                    staller = Staller(up.pids[f"worker {victim}"])
                    try:
                        stalled.setdefault(hedging, []).append(opened(args.binary, up.router, body, args.rate, args.seconds))
                    finally:
                        staller.end()
            finally:
                up.stop()

        def med(values, fmt="{:.2f}", worst=max):
            return f"{fmt.format(statistics.median(values))} [{fmt.format(worst(values))}]"

        print(f"\nThe ranker ({args.users:,} users + {args.items:,} items × {args.dim} floats) through the router; "
              f"median [worst] of {args.rounds} rounds of {args.seconds} s:\n")
        print("| setup | closed loop req/s | p50 ms | p99 ms | open loop at {0} req/s: p50 ms | p99 ms | errors |".format(args.rate))
        print("|---|---|---|---|---|---|---|")
        for name in ("unsplit", "split"):
            c, o = results[(name, "closed")], results[(name, "open")]
            print(f"| {name} | {med([x[0] for x in c], '{:.0f}', min)} | {med([x[1] for x in c])} | {med([x[2] for x in c])} "
                  f"| {med([x[1] for x in o])} | {med([x[2] for x in o])} | {sum(x[3] for x in c) + sum(x[3] for x in o)} |")
        print(f"\nSplit, one shard-holding worker stopped 50 ms every 500 ms; open loop at {args.rate} req/s:\n")
        print("| lookup hedging | achieved req/s | p50 ms | p99 ms | errors |")
        print("|---|---|---|---|---|")
        for hedging in ("on", "off"):
            s = stalled[hedging]
            print(f"| {hedging} | {med([x[0] for x in s], '{:.0f}', min)} | {med([x[1] for x in s])} | {med([x[2] for x in s])} | {sum(x[3] for x in s)} |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
