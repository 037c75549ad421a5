#!/usr/bin/python3
"""dropsim side by side with real nginx and HAProxy, in one run (issue 14).

    /usr/bin/python3 bench/compare.py [--dropsim build/dropsim] [--rounds 5] [--quick]
                                      [--markdown docs/performance.md]

Every target runs on 127.0.0.1 in front of the same backend, started fresh for each
measurement with a config generated into a temporary directory (one nginx worker, one
HAProxy thread, dropsim's single thread; the scaling rows at 1 and 2 workers):

    direct loopback   the backend itself, the reference row
    nginx             nginx stream (raw TCP rows) / nginx http proxying the upgrade (WebSocket)
    dropsim           `dropsim run --profile nginx-stream` / `--profile nginx`
    HAProxy           mode tcp / mode http

and for each, rounds in a shuffled order (every round runs every pair of measurement and
target once), then the median of the rounds:

    bulk raw TCP         iperf3 -c, one stream, --seconds long        (iperf3 -s behind)
    scaling              iperf3 -c -P 4, four streams summed, through nginx stream at
                         worker_processes 1 and 2 and `dropsim run --threads 1` and 2
                         (the nginx-stream profile), beside direct loopback; each proxy's
                         2 ÷ 1 in a section of its own (measurement tcp_bulk_parallel)
    bulk WebSocket       bench/compare/backend.py ws behind, our client in front: 256 KiB
                         binary messages both ways at once, the two directions summed
    64 B ping-pong       sockperf ping-pong --tcp -m 64 --full-rtt    (sockperf server behind)
    RSS per idle session the proxy's VmRSS before and after --sessions idle connections
    timer lateness       --sessions connections at once through a proxy whose idle timeout
                         is --timer-timeout; when each client sees the close minus its
                         deadline (connect completed + timeout)

It prints a markdown table with each column's ratio to nginx and, with --markdown, writes
it with the machine, the date and how to reproduce. A tool that is missing (iperf3,
sockperf: scripts/deps.sh --bench; nginx, HAProxy: scripts/deps.sh) or a measurement that
fails leaves its cells empty with a note; the exit status is 0 unless nothing could run.
Loopback only; every wait is bounded; every process started is stopped (its process
group) before the harness exits.
"""

import argparse
import datetime
import os
import platform
import random
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "compare"))
import loads  # noqa: E402
import summary  # noqa: E402
import targets  # noqa: E402

# measurement -> (the kind of proxy it needs, the targets it runs on, what it needs installed)
MEASUREMENTS = {
    "tcp_bulk": ("tcp", ("direct", "nginx", "dropsim", "haproxy"), "iperf3"),
    "tcp_bulk_parallel": ("tcp", summary.SCALING_TARGETS, "iperf3"),
    "ws_bulk": ("ws", ("direct", "nginx", "dropsim", "haproxy"), None),
    "ping_pong": ("tcp", ("direct", "nginx", "dropsim", "haproxy"), "sockperf"),
    "rss": ("tcp", ("nginx", "dropsim", "haproxy"), None),
    "timer": ("tcp", ("nginx", "dropsim", "haproxy"), None),
}
KEEP_BACKLOG = 256  # descriptors kept back from the limit for everything but sessions


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dropsim", default=os.path.join(ROOT, "build", "dropsim"), help="the dropsim binary")
    p.add_argument("--rounds", type=int, default=5, help="rounds, each running every pair once (default 5)")
    p.add_argument("--seconds", type=float, default=3, help="length of each bulk and ping-pong run (default 3)")
    p.add_argument("--sessions", type=int, default=9000, help="idle sessions for RSS and timers (default 9000)")
    p.add_argument("--timer-timeout", type=int, default=5,
                   help="the idle timeout, in seconds, of the timer measurement (default 5)")
    p.add_argument("--quick", action="store_true", help="1 round of 1 s runs: a smoke test, not figures")
    p.add_argument("--only", help="comma-separated subset of " + ",".join(MEASUREMENTS))
    p.add_argument("--markdown", help="also write the table, machine and method to this file")
    p.add_argument("--note", action="append", default=[],
                   help="a sentence to add to the notes (e.g. that the machine was busy); repeatable")
    p.add_argument("--seed", type=int, help="the shuffle's seed (default: random, printed)")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory (configs, logs)")
    p.add_argument("--dropsim-arg", action="append", default=[], dest="dropsim_args", metavar="ARG",
                   help="an argument for `dropsim run` (e.g. --dropsim-arg=--splice); repeatable")
    args = p.parse_args(argv)
    if args.quick:
        args.rounds, args.seconds = 1, 1
    args.seconds = max(1, int(round(args.seconds)))  # iperf3 and sockperf take whole seconds
    args.rounds = max(1, args.rounds)
    args.only = set(args.only.split(",")) if args.only else set(MEASUREMENTS)
    unknown = args.only - set(MEASUREMENTS)
    if unknown:
        p.error(f"unknown measurement(s): {', '.join(sorted(unknown))}")
    return args


def missing_tools(dropsim):
    """{tool: why it cannot run} for what is not installed."""
    missing = {}
    for tool in ("nginx", "haproxy", "iperf3", "sockperf"):
        if targets.program(tool) is None:
            missing[tool] = f"{tool} is not installed"
    if "nginx" not in missing and not os.path.exists(targets.NGINX_STREAM_MODULE):
        missing["nginx"] = f"{targets.NGINX_STREAM_MODULE} is missing (libnginx-mod-stream)"
    if not os.access(dropsim, os.X_OK):
        missing["dropsim"] = f"{dropsim} is not built"
    return missing


class Harness:
    """The backends shared by every round, and one measurement at a time."""

    def __init__(self, args, tmp, nofile, sessions):
        self.args, self.tmp, self.nofile, self.sessions = args, tmp, nofile, sessions
        self.backends = {}

    def backend(self, name):
        """The shared backend `name` (iperf3, sockperf, ws), started on first use."""
        if name not in self.backends:
            start = {"iperf3": targets.start_iperf3, "sockperf": targets.start_sockperf,
                     "ws": lambda tmp: targets.start_peer(tmp, "ws")}[name]
            self.backends[name] = start(self.tmp)
        return self.backends[name]

    def stop(self):
        for b in self.backends.values():
            b.stop()

    def run(self, measurement, target):
        """One measurement through one target, the proxy started for it and stopped after."""
        kind = MEASUREMENTS[measurement][0]
        proxy_name, workers = proxy_of(target)
        job_tmp = tempfile.mkdtemp(prefix=f"{measurement}-{target}-", dir=self.tmp)
        started = []
        try:
            timeout = None
            if measurement in ("rss", "timer"):
                upstream = targets.start_peer(job_tmp, "hold")
                started.append(upstream)
                if measurement == "timer":
                    timeout = f"{self.args.timer_timeout}s"
            else:
                upstream = self.backend({"tcp_bulk": "iperf3", "tcp_bulk_parallel": "iperf3", "ping_pong": "sockperf",
                                         "ws_bulk": "ws"}[measurement])
            port = upstream.port
            proxy = None
            if target != "direct":
                # The timer load reads dropsim's own view of the burst from its API.
                own_view = measurement == "timer" and proxy_name == "dropsim"
                proxy = targets.start_proxy(proxy_name, kind, job_tmp, upstream.port, self.args.dropsim,
                                            self.nofile, timeout, self.args.dropsim_args, workers, own_view)
                started.append(proxy)
                port = proxy.port
            s = self.args.seconds
            if measurement == "tcp_bulk":
                return loads.bulk_tcp(port, s)
            if measurement == "tcp_bulk_parallel":
                return loads.bulk_tcp_parallel(port, s)
            if measurement == "ping_pong":
                return loads.ping_pong(port, s)
            if measurement == "ws_bulk":
                return loads.bulk_ws(port, s)
            if measurement == "rss":
                # nginx: the worker alone (the master holds no session); others: the process.
                pids = proxy.pids()
                pids = pids[1:] if target == "nginx" and len(pids) > 1 else pids[:1]
                return loads.idle_rss(port, pids, upstream, self.sessions)
            result = loads.timer_lateness(port, upstream, self.sessions, self.args.timer_timeout)
            if proxy_name == "dropsim":
                result.update(loads.own_lateness(proxy.api_port))
            return result
        finally:
            for p in reversed(started):
                p.stop()


def proxy_of(target):
    """(the proxy `target` starts, its workers or None): a scaling target names both, the
    others are the proxy itself as every other row runs it."""
    return summary.SCALED.get(target, (target, None))


def machine_info(dropsim):
    cpu = "unknown"
    for line in targets.read_file("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return [
        ("CPUs (nproc)", str(os.cpu_count())),
        ("CPU", cpu),
        ("kernel", platform.release()),
        ("Debian", targets.read_file("/etc/debian_version").strip() or "unknown"),
        ("nginx", targets.version([targets.program("nginx") or "nginx", "-v"], r"nginx/(\S+)")),
        ("HAProxy", targets.version([targets.program("haproxy") or "haproxy", "-v"], r"version (\S+)")),
        ("dropsim", targets.version([dropsim, "--version"], r"(\d+\.\d+\S*)")),
        ("iperf3", targets.version([targets.program("iperf3") or "iperf3", "--version"], r"iperf (\S+)")),
        ("sockperf", targets.version([targets.program("sockperf") or "sockperf", "--version"], r"[Vv]ersion[: ]+(\S+)")),
    ]


def method_notes(args, sessions):
    return [
        f"{args.rounds} round(s); bulk and ping-pong runs of {args.seconds} s each.",
        "nginx: nginx stream for the raw TCP rows, nginx's http proxy with the WebSocket headers "
        "for the WebSocket row; `worker_processes 1`. HAProxy: mode tcp / mode http, `nbthread 1`. "
        "dropsim: the `nginx-stream` / `nginx` profile. Default buffers everywhere.",
        "Bulk WebSocket: one upgraded connection, 256 KiB binary messages sent both ways at once "
        "(our client, bench/compare/backend.py behind), each direction's payload bytes over its "
        "own time, summed.",
        f"Scaling: iperf3 -P {loads.PARALLEL_STREAMS}, the streams' received Gbit/s summed "
        "(`end.sum_received`), through nginx stream (`worker_processes` 1 and 2, its default "
        "listen: the kernel picks which worker accepts each stream) and dropsim's "
        "`nginx-stream` profile (`run --threads` 1 and 2).",
        "Round trips are sockperf's `--full-rtt`; the added row is the target's p50 minus direct "
        "loopback's p50.",
        f"RSS per idle session: VmRSS after {sessions:,} idle sessions were open end to end minus "
        "before, divided by the sessions; nginx's worker only (its master holds no session), "
        "dropsim's and HAProxy's single process.",
        f"Timer lateness: {sessions:,} idle connections through a proxy with a "
        f"{args.timer_timeout} s idle timeout (nginx `proxy_timeout`, dropsim `--set "
        "proxy_timeout`, HAProxy `timeout client/server`), opened as fast as the proxy takes "
        f"them ({loads.CONNECT_BATCH} at a time, the next batch once the backend holds the "
        "last), so that their timers all run at once and expire in one burst; the moment each "
        "client saw the close minus the moment its connect completed + the timeout. It includes "
        "what the proxy's accept lags behind the kernel's handshake and the harness's own epoll "
        "loop (one clock reading per batch of events). dropsim's own clock: its "
        "`dropsim_timer_lateness_seconds` histogram (GET /metrics after the burst), how long "
        "after its deadline each timer fired; a quantile is the bound of the bucket that holds it "
        "(0.5, 1, 2, 5 ms ...), so \"p99 at most 5 ms\" means between 2 and 5 ms.",
    ]


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    args.dropsim = os.path.abspath(args.dropsim)
    missing = missing_tools(args.dropsim)
    notes = [f"{why}: its cells are empty." for why in missing.values()]
    hard = loads.raise_nofile()
    sessions = min(args.sessions, max(0, (hard - KEEP_BACKLOG) // 2))
    if sessions < args.sessions:
        notes.append(f"The descriptor limit ({hard}) allows {sessions:,} sessions, not {args.sessions:,}.")
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)

    jobs = []
    for m, (_, names, tool) in MEASUREMENTS.items():
        if m not in args.only or (tool and tool in missing) or (m in ("rss", "timer") and sessions < 1):
            continue
        jobs += [(m, t) for t in names if t == "direct" or proxy_of(t)[0] not in missing]
    if not jobs:
        print("compare: nothing to measure:\n  " + "\n  ".join(notes), file=sys.stderr)
        return 1
    results, errors = {}, {}
    tmp = tempfile.mkdtemp(prefix="dropsim-compare-")
    harness = Harness(args, tmp, hard, sessions)
    print(f"compare: {len(jobs)} measurements x {args.rounds} round(s), seed {seed}, "
          f"{sessions:,} idle sessions, temporary files in {tmp}", file=sys.stderr)
    started = time.monotonic()
    try:
        for r in range(args.rounds):
            order = jobs[:]
            rng.shuffle(order)
            for m, t in order:
                t0 = time.monotonic()
                try:
                    values = harness.run(m, t)
                except Exception as e:  # noqa: BLE001 (one failed cell must not end the run)
                    errors.setdefault((m, t), f"{type(e).__name__}: {e}".strip().splitlines()[0])
                    print(f"  round {r + 1}: {m} / {t}: FAILED {type(e).__name__}: {e}", file=sys.stderr)
                    continue
                for key, v in values.items():
                    results.setdefault(key, {}).setdefault(t, []).append(v)
                shown = ", ".join(f"{k} {v:.2f}" for k, v in values.items())
                print(f"  round {r + 1}: {m} / {t}: {shown} ({time.monotonic() - t0:.1f} s)", file=sys.stderr)
    finally:
        harness.stop()
        if args.keep:
            print(f"compare: kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"compare: done in {time.monotonic() - started:.0f} s", file=sys.stderr)

    notes += [f"{m} / {t} failed: {why}" for (m, t), why in sorted(errors.items())] + args.note
    figures = summary.summarize(results)
    table = summary.table(figures, sessions)
    scaling = summary.scaling_table(figures, os.cpu_count())
    for section in (table, scaling):
        if section:  # a run of the scaling rows alone has no main table
            print(section)
    for n in notes:
        print(f"- {n}")
    if args.markdown:
        date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        command = (f"python3 bench/compare.py --dropsim build/dropsim --rounds {args.rounds} "
                   f"--seconds {args.seconds} --markdown {args.markdown}")
        reproduce = ("scripts/deps.sh --bench   # iperf3 and sockperf; nginx, HAProxy come with scripts/deps.sh\n"
                     "make bench-compare         # builds dropsim, then:\n" + command + "\n"
                     "# the scaling section alone: add --only tcp_bulk_parallel")
        text = summary.markdown(table, machine_info(args.dropsim), method_notes(args, sessions) + notes,
                                reproduce, date, summary.rounds_table(results), scaling)
        with open(args.markdown, "w") as f:
            f.write(text)
        print(f"compare: wrote {args.markdown}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
