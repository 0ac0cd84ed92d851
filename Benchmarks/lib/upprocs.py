"""What the Python benchmarks need to know about a running `hedgerow up`: its roles' pids and their memory."""
import os, signal, subprocess


def roles(up_pid):
    """name -> pid of up's children ("synchronizer", "router", "worker w1", ...), read from /proc."""
    result = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) != up_pid:
                    continue
            with open(f"/proc/{pid}/cmdline") as f:
                args = f.read().split("\0")
            result[args[1] + (" " + args[args.index("--name") + 1] if "--name" in args else "")] = int(pid)
        except (OSError, ValueError, IndexError):
            pass
    return result


def rss_mb(pid):
    """Resident memory of a process in MiB, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def stop(proc, grace=30):
    """Stops a `hedgerow up` (SIGTERM: it stops its roles), killing it if it has not ended after `grace` seconds."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()


def pct(values, p):
    """The p-th percentile of `values` (nearest rank), NaN when empty."""
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))]
