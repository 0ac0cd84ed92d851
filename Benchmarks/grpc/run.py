"""gRPC ModelInfer against KServe v2 JSON and JSON + binary tensor data, through the router, in one run.

Starts `hedgerow up` (release build, two workers, digits), writes the three request bodies for the same rows
(checked once with curl: each must answer), and drives each with h2load on the router's port, in rounds that
alternate the order of the encodings (this machine has slow spells that would otherwise favour whichever ran in a
quiet one). Two loads: one stream at a time (latency) and 8 connections × 8 streams (throughput). Then the same
bodies open loop at a fixed rate with `hedgerow bench` (Hedgerow's own generator: latency from each request's
intended send time, gRPC answers counted only with grpc-status 0). Prints req/s and
p50/p99 per cell, median [worst] of the rounds, the ratio to JSON of each round's req/s, and the CPU time the router
and the workers spent per request (utime + stime from /proc: steadier than req/s on a noisy machine).
"""
import argparse, json, os, shutil, statistics, struct, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from h2loadrun import free_ports, h2load  # noqa: E402
from upprocs import pct, roles, stop  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def varint(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def field(number, payload):
    """A length-delimited protobuf field."""
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def bodies(work, rows):
    """JSON, binary and gRPC bodies carrying the same `rows` × 64 float32 pixels for digits."""
    values = [float((r * 64 + c) % 17) for r in range(rows) for c in range(64)]
    raw = struct.pack(f"<{len(values)}f", *values)
    plain = {"inputs": [{"name": "input", "shape": [rows, 64], "datatype": "FP32", "data": values}]}
    header = json.dumps({"inputs": [{"name": "input", "shape": [rows, 64], "datatype": "FP32", "parameters": {"binary_data_size": len(raw)}}],
                         "outputs": [{"name": "probabilities", "parameters": {"binary_data": True}}]}).encode()
    tensor = field(1, b"input") + field(2, b"FP32") + field(3, b"".join(varint(d) for d in (rows, 64)))
    message = field(1, b"digits") + field(5, tensor) + field(7, raw)
    paths = {}
    for name, data in (("json", json.dumps(plain).encode()), ("binary", header + raw), ("grpc", b"\0" + struct.pack(">I", len(message)) + message)):
        paths[name] = os.path.join(work, f"{name}-{rows}.bin")
        with open(paths[name], "wb") as f:
            f.write(data)
    return paths, len(header)


ENCODINGS = ("json", "binary", "grpc")


def request_for(encoding, port, header_length):
    if encoding == "grpc":
        return f"http://127.0.0.1:{port}/inference.GRPCInferenceService/ModelInfer", ("content-type: application/grpc", "te: trailers")
    url = f"http://127.0.0.1:{port}/v2/models/digits/infer"
    if encoding == "binary":
        return url, ("content-type: application/octet-stream", f"inference-header-content-length: {header_length}")
    return url, ("content-type: application/json",)


def check(encoding, body, port, header_length):
    """One request with curl: the answer must be a success of the expected kind (a gRPC answer with a body and
    grpc-status 0 in its trailers)."""
    url, headers = request_for(encoding, port, header_length)
    cmd = ["curl", "-s", "--http2-prior-knowledge", "-D", "-", "-o", "/dev/null", "-w", "%{size_download}", "--data-binary", f"@{body}", url]
    for h in headers:
        cmd += ["-H", h]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout
    size = int(out.strip().splitlines()[-1].split()[-1]) if out.strip() else 0
    ok = " 200" in out.splitlines()[0] and size > 0 and (encoding != "grpc" or "grpc-status: 0" in out)
    if not ok:
        raise SystemExit(f"{encoding}: the request does not succeed through the router:\n{out}")


def cpu_seconds(pids):
    """utime + stime of the processes, in seconds."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build/release/hedgerow"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rows", default="1,32")
    parser.add_argument("--open-rates", default="1:2000,32:1000", help="rows:req/s of the open-loop cells (hedgerow bench)")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="hedgerow-grpc-bench-")
    config = os.path.join(work, "desired-state.yaml")
    with open(config, "w") as f:
        f.write(f"repository: {os.path.join(ROOT, 'Models')}\ndefaults:\n  replicas: 2\nmodels:\n  - name: digits\n    versions: {{ latest: 1 }}\n")
    router, sync, base = free_ports(3)
    log = open(os.path.join(work, "up.log"), "w")
    up = subprocess.Popen([args.binary, "up", "--config", config, "--router-port", str(router), "--sync-port", str(sync),
                           "--worker-base-port", str(base)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 120
        while "Hedgerow is up." not in open(os.path.join(work, "up.log")).read():
            if up.poll() is not None or time.time() > deadline:
                raise SystemExit("hedgerow up did not come up:\n" + open(os.path.join(work, "up.log")).read()[-2000:])
            time.sleep(0.3)
        procs = roles(up.pid)
        router_pid = [procs["router"]]
        worker_pids = [pid for name, pid in procs.items() if name.startswith("worker")]
        loads = {"1 stream": ["-c", "1", "-m", "1", "-t", "1"], "8×8 streams": ["-c", "8", "-m", "8", "-t", "1"]}
        results = {}  # (rows, load, encoding) -> [(rps, p50, p99)]
        ratios = {}   # (rows, load, encoding) -> [rps / json rps]
        runs = 0
        for rows in [int(r) for r in args.rows.split(",")]:
            paths, header_length = bodies(work, rows)
            for encoding in ENCODINGS:
                check(encoding, paths[encoding], router, header_length)
            for load, load_args in loads.items():
                for round_number in range(args.rounds):
                    order = ENCODINGS if round_number % 2 == 0 else tuple(reversed(ENCODINGS))
                    this_round = {}
                    for encoding in order:
                        url, headers = request_for(encoding, router, header_length)
                        h2load(url, paths[encoding], load_args + ["-D", "1"], os.path.join(work, f"warm-{runs}.log"), headers)  # warm-up
                        before = (cpu_seconds(router_pid), cpu_seconds(worker_pids))
                        summary, rows_logged = h2load(url, paths[encoding], load_args + ["-D", str(args.seconds)], os.path.join(work, f"run-{runs}.log"), headers)
                        after = (cpu_seconds(router_pid), cpu_seconds(worker_pids))
                        runs += 1
                        good = [ms for status, ms in rows_logged if status == 200]
                        failed = summary.get("failed", 0) + summary.get("errored", 0)
                        if failed:
                            print(f"warning: {failed} failed requests ({encoding}, {rows} rows, {load})", file=sys.stderr)
                        rps = len(good) / args.seconds
                        this_round[encoding] = rps
                        done = max(1, len(rows_logged))
                        results.setdefault((rows, load, encoding), []).append((rps, pct(good, 50), pct(good, 99),
                                                                               (after[0] - before[0]) / done * 1e6, (after[1] - before[1]) / done * 1e6))
                    for encoding in ENCODINGS:
                        ratios.setdefault((rows, load, encoding), []).append(this_round[encoding] / this_round["json"])
        # Open loop at a fixed rate with Hedgerow's own generator: latency from each request's intended send time,
        # the same offered load for every encoding.
        open_results = {}
        for cell in args.open_rates.split(","):
            rows, rate = (int(x) for x in cell.split(":"))
            paths, header_length = bodies(work, rows)
            for round_number in range(args.rounds):
                order = ENCODINGS if round_number % 2 == 0 else tuple(reversed(ENCODINGS))
                for encoding in order:
                    url, headers = request_for(encoding, router, header_length)
                    path = "/" + url.split("/", 3)[3]
                    cmd = [args.binary, "bench", "--target", f"127.0.0.1:{router}", "--path", path, "--body-file", paths[encoding],
                           "--rate", str(rate), "--seconds", str(args.seconds)] + [a for h in headers for a in ("--header", h)]
                    out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.seconds + 60).stdout
                    row = [line for line in out.splitlines() if line.startswith("| - |")]
                    if not row:
                        raise SystemExit(f"hedgerow bench printed no result for {encoding}:\n{out}")
                    cells = [c.strip() for c in row[0].strip("|").split("|")]
                    achieved, p50, p99, errors = float(cells[2]), float(cells[3]), float(cells[5]), int(cells[8])
                    open_results.setdefault((rows, rate, encoding), []).append((achieved, p50, p99, errors))
        print(f"\nThrough the router ({args.rounds} alternating rounds of {args.seconds} s; median [worst]):\n")
        print("| rows | load | encoding | req/s | p50 ms | p99 ms | req/s vs JSON | router CPU µs/req | workers CPU µs/req |")
        print("|---|---|---|---|---|---|---|---|---|")
        for (rows, load, encoding), cells in results.items():
            rps = [c[0] for c in cells]
            p50 = [c[1] for c in cells]
            p99 = [c[2] for c in cells]
            ratio = ratios[(rows, load, encoding)]
            router_cpu = [c[3] for c in cells]
            worker_cpu = [c[4] for c in cells]
            print(f"| {rows} | {load} | {encoding} | {statistics.median(rps):.0f} [{min(rps):.0f}] | {statistics.median(p50):.2f} [{max(p50):.2f}] "
                  f"| {statistics.median(p99):.2f} [{max(p99):.2f}] | {statistics.median(ratio):.2f}× [{min(ratio):.2f}] "
                  f"| {statistics.median(router_cpu):.0f} [{max(router_cpu):.0f}] | {statistics.median(worker_cpu):.0f} [{max(worker_cpu):.0f}] |")
        print(f"\nOpen loop (hedgerow bench, fixed rate, latency from the intended send time; median [worst] of {args.rounds}):\n")
        print("| rows | offered req/s | encoding | achieved req/s | p50 ms | p99 ms | errors |")
        print("|---|---|---|---|---|---|---|")
        for (rows, rate, encoding), cells in open_results.items():
            achieved, p50, p99, errors = ([c[i] for c in cells] for i in range(4))
            print(f"| {rows} | {rate} | {encoding} | {statistics.median(achieved):.0f} [{min(achieved):.0f}] | {statistics.median(p50):.2f} [{max(p50):.2f}] "
                  f"| {statistics.median(p99):.2f} [{max(p99):.2f}] | {sum(errors)} |")
    finally:
        stop(up)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
