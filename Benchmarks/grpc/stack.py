"""gRPC server stacks side by side: grpc-swift 2 (Benchmarks/grpc/grpc-swift-spike, NIO HTTP/2 transport, raw-bytes
handlers) and a Hedgerow worker (its own HTTP/2 server with HedgerowGRPC), both answering the same unary call,
ServerLive, which does no work: what is measured is each stack's cost per call. h2load drives both on loopback
with the bytes a gRPC client sends, in rounds that alternate the order; prints req/s, p50/p99 and the server's CPU
per call, median [worst].

    bash Benchmarks/grpc/run.sh --stack     (builds the spike in release first: about 14 minutes the first time)
"""
import argparse, os, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from h2loadrun import free_ports, h2load  # noqa: E402
from upprocs import pct  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPIKE = os.path.join(ROOT, "Benchmarks/grpc/grpc-swift-spike/.build/release/GRPCSwiftSpike")


def cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_port(port, proc, what):
    import socket
    deadline = time.time() + 30
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise SystemExit(f"{what} did not listen on {port}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build/release/hedgerow"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="hedgerow-grpc-stack-")
    body = os.path.join(work, "empty.bin")
    with open(body, "wb") as f:
        f.write(b"\0\0\0\0\0")  # ServerLiveRequest: an empty message
    spike_port, worker_port = free_ports(2)
    os.makedirs(os.path.join(work, "repo"))
    servers = {
        "grpc-swift 2": subprocess.Popen([SPIKE, "--port", str(spike_port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        "Hedgerow worker": subprocess.Popen([args.binary, "worker", "--listen", f"127.0.0.1:{worker_port}", "--repository", os.path.join(work, "repo")],
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
    }
    ports = {"grpc-swift 2": spike_port, "Hedgerow worker": worker_port}
    try:
        for name, proc in servers.items():
            wait_port(ports[name], proc, name)
        loads = {"1 stream": ["-c", "1", "-m", "1", "-t", "1"], "8×8 streams": ["-c", "8", "-m", "8", "-t", "1"]}
        headers = ("content-type: application/grpc", "te: trailers")
        results, runs = {}, 0
        for load, load_args in loads.items():
            for round_number in range(args.rounds):
                order = list(servers) if round_number % 2 == 0 else list(reversed(servers))
                for name in order:
                    url = f"http://127.0.0.1:{ports[name]}/inference.GRPCInferenceService/ServerLive"
                    h2load(url, body, load_args + ["-D", "1"], os.path.join(work, f"warm-{runs}.log"), headers)
                    before = cpu(servers[name].pid)
                    summary, rows = h2load(url, body, load_args + ["-D", str(args.seconds)], os.path.join(work, f"run-{runs}.log"), headers)
                    used = cpu(servers[name].pid) - before
                    runs += 1
                    good = [ms for status, ms in rows if status == 200]
                    results.setdefault((load, name), []).append((len(good) / args.seconds, pct(good, 50), pct(good, 99), used / max(1, len(rows)) * 1e6))
        print(f"\nServerLive, {args.rounds} alternating rounds of {args.seconds} s; median [worst]:\n")
        print("| load | server | req/s | p50 ms | p99 ms | server CPU µs/call |")
        print("|---|---|---|---|---|---|")
        for (load, name), cells in results.items():
            rps, p50, p99, c = ([cell[i] for cell in cells] for i in range(4))
            print(f"| {load} | {name} | {statistics.median(rps):.0f} [{min(rps):.0f}] | {statistics.median(p50):.3f} [{max(p50):.3f}] "
                  f"| {statistics.median(p99):.3f} [{max(p99):.3f}] | {statistics.median(c):.1f} [{max(c):.1f}] |")
    finally:
        for proc in servers.values():
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    main()
