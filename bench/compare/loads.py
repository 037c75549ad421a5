"""The loads of bench/compare.py, each against one port (a proxy's, or a backend's for
direct loopback), each bounded in time. Each returns {metric key: value}.

- bulk_tcp: iperf3, one stream client to server.
- bulk_tcp_parallel: iperf3 -P 4, four streams at once, their sum (the scaling rows).
- bulk_ws: our client (below) and backend.py ws: 256 KiB binary messages both ways at
  once through one upgraded connection; the sum of both directions.
- ping_pong: sockperf ping-pong over TCP, 64 B messages, round trip percentiles.
- idle_sessions: N connections opened with epoll, held idle; the proxy's RSS before and
  after, or, with the proxy's idle timeout short, when each client sees its close.
"""

import errno
import json
import math
import re
import resource
import select
import socket
import struct
import subprocess
import threading
import time
import urllib.request

import backend
import summary
import targets
import wsproto

IPERF_SLACK = 15.0     # iperf3 gets this long beyond its own duration
CONNECT_BATCH = 250    # connects in flight at once, far below any listen backlog
OPEN_TIMEOUT = 60.0    # all N sessions open within this, or the measurement fails


PARALLEL_STREAMS = 4    # the scaling rows' iperf3 -P: more streams than the 2 threads to spread


def bulk_tcp(port, seconds):
    """Gbit/s that iperf3 moved through 127.0.0.1:port in `seconds` (received side)."""
    return {"tcp_bulk": iperf3(port, seconds, streams=1)}


def bulk_tcp_parallel(port, seconds):
    """The same with PARALLEL_STREAMS streams at once (iperf3 -P), their sum: what a proxy
    that spreads its sessions over threads or processes can gain."""
    return {"tcp_bulk_parallel": iperf3(port, seconds, streams=PARALLEL_STREAMS)}


def iperf3(port, seconds, streams):
    """Runs iperf3 -c through 127.0.0.1:port with `streams` parallel streams; Gbit/s received."""
    out = subprocess.run([targets.program("iperf3"), "-c", "127.0.0.1", "-p", str(port), "-t", str(seconds),
                          "-P", str(streams), "-J", "--connect-timeout", "3000"], capture_output=True, text=True,
                         timeout=seconds + IPERF_SLACK)
    return iperf3_received_gbits(out.stdout, out.stderr)


def iperf3_received_gbits(stdout, stderr=""):
    """Gbit/s from iperf3 -J's report: end.sum_received, the server's count summed over
    every stream (with -P the per-stream figures are beside it). iperf3 reports its own
    failures in the JSON's "error"; anything else that is not a report is a failure too."""
    try:
        data = json.loads(stdout)
    except ValueError:
        raise RuntimeError(f"iperf3 printed no JSON report: {(stdout + stderr).strip()[-500:] or 'nothing'}") from None
    if "error" in data:
        raise RuntimeError(f"iperf3: {data['error']}")
    try:
        return data["end"]["sum_received"]["bits_per_second"] / 1e9
    except (KeyError, TypeError):
        raise RuntimeError("iperf3's report has no end.sum_received.bits_per_second") from None


def ping_pong(port, seconds):
    """64 B TCP ping-pong through 127.0.0.1:port: round trip p50 and p99 in µs."""
    out = subprocess.run([targets.program("sockperf"), "ping-pong", "--tcp", "-i", "127.0.0.1", "-p", str(port),
                          "-m", "64", "-t", str(seconds), "--full-rtt"], capture_output=True, text=True,
                         timeout=seconds + IPERF_SLACK)
    found = {}
    for line in out.stdout.splitlines() + out.stderr.splitlines():
        if "percentile" in line and "=" in line:
            p, value = line.split("percentile", 1)[1].split("=")
            found[float(p)] = float(value)
    if 50.0 not in found or 99.0 not in found:
        raise RuntimeError(f"sockperf printed no percentiles:\n{out.stdout[-1500:]}{out.stderr[-1500:]}")
    return {"pp_p50": found[50.0], "pp_p99": found[99.0]}


def bulk_ws(port, seconds):
    """Upgrades a connection through 127.0.0.1:port to backend.py ws and sends 256 KiB
    messages for `seconds` while the backend sends its own; the client counts what it
    received in those seconds, then sends a close frame, and the backend answers with
    what it received and over how long. Returns the sum of both directions in Gbit/s."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        request, key = wsproto.upgrade_request(f"127.0.0.1:{port}", "/bulk")
        sock.sendall(request)
        head, rest = backend.read_head(sock)
        if head.status() != 101 or head.header("sec-websocket-accept") != wsproto.accept_key(key):
            raise RuntimeError(f"no upgrade: {head.start_line}")
        sock.settimeout(backend.IO_TIMEOUT)
        stop = threading.Event()
        failure = []

        def flood():
            frame = backend.bulk_frame(mask=True)
            try:
                while not stop.is_set():
                    sock.sendall(frame)
                sock.sendall(wsproto.encode_frame(wsproto.OP_CLOSE, wsproto.close_payload(1000), mask=True))
            except OSError as e:
                failure.append(e)

        skipper = backend.FrameSkipper()
        skipper.feed(rest)
        start = time.monotonic()
        sender = threading.Thread(target=flood, daemon=True)
        sender.start()
        buf = bytearray(backend.RECV_SIZE)
        received_in_window = None
        answer = None
        give_up = start + seconds + backend.IO_TIMEOUT
        while answer is None and time.monotonic() < give_up:
            if received_in_window is None and time.monotonic() - start >= seconds:
                received_in_window = skipper.binary_bytes
                window = time.monotonic() - start
                stop.set()
            n = sock.recv_into(buf)
            if not n:
                break
            for opcode, payload in skipper.feed(memoryview(buf)[:n]):
                if opcode == wsproto.OP_TEXT:
                    got, took = payload.decode().split()
                    answer = (int(got), float(took))
        stop.set()
        sender.join(backend.IO_TIMEOUT)
        if answer is None or received_in_window is None:
            raise RuntimeError(f"the bulk WebSocket exchange did not finish ({failure or 'no report'})")
        down = received_in_window * 8 / window
        up = answer[0] * 8 / answer[1] if answer[1] > 0 else 0
        return {"ws_bulk": (down + up) / 1e9}
    finally:
        sock.close()


def raise_nofile():
    """Soft RLIMIT_NOFILE up to the hard limit (children inherit it); returns the limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def _rst_close(sock):
    """Closes with RST (SO_LINGER 0): no TIME_WAIT left for the next round's ports."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


def open_idle(port, n, hold):
    """Opens n connections to 127.0.0.1:port in batches of CONNECT_BATCH, each batch once
    the hold backend holds every connection of the ones before (the proxy accepted and
    connected them): no client waits long in the proxy's accept backlog, so its connect
    time is when the proxy took it. Returns ({fd: socket}, {fd: monotonic time the connect
    completed}); raises if they are not all open within OPEN_TIMEOUT."""
    ep = select.epoll()
    socks, connected = {}, {}
    deadline = time.monotonic() + OPEN_TIMEOUT
    try:
        while len(socks) < n:
            batch = 0
            while batch < CONNECT_BATCH and len(socks) < n:
                s = socket.socket()
                s.setblocking(False)
                err = s.connect_ex(("127.0.0.1", port))
                if err not in (0, errno.EINPROGRESS):
                    s.close()
                    raise RuntimeError(f"connect: {errno.errorcode.get(err, err)} after {len(socks)} connections")
                socks[s.fileno()] = s
                ep.register(s.fileno(), select.EPOLLOUT)
                batch += 1
            while len(connected) < len(socks):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"only {len(connected)} of {n} connections opened in {OPEN_TIMEOUT:.0f} s")
                events = ep.poll(0.5)
                now = time.monotonic()
                for fd, _ in events:
                    ep.unregister(fd)
                    err = socks[fd].getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        raise RuntimeError(f"connect: {errno.errorcode.get(err, err)} after {len(connected)} connections")
                    connected[fd] = now
            wait_held(hold, len(socks), max(0.1, deadline - time.monotonic()))
        return socks, connected
    except BaseException:
        for s in socks.values():
            _rst_close(s)
        raise
    finally:
        ep.close()


def wait_held(hold, n, timeout=OPEN_TIMEOUT):
    """Waits until the hold backend holds n connections (the proxy connected them all)."""
    deadline = time.monotonic() + timeout
    count = -1
    while time.monotonic() < deadline:
        count = targets.held(hold)
        if count >= n:
            return
        time.sleep(0.002)
    raise RuntimeError(f"the backend holds {count} of {n} connections")


def idle_rss(port, pids, hold, n, settle=0.5):
    """RSS (KB) per idle session: the proxy's (sum of VmRSS over `pids`) before and after n
    sessions are open end to end and idle."""
    before = targets.rss_kb(pids)
    socks, _ = open_idle(port, n, hold)
    try:
        time.sleep(settle)
        after = targets.rss_kb(pids)
    finally:
        for s in socks.values():
            _rst_close(s)
    return {"rss_per_session": (after - before) / n}


def timer_lateness(port, hold, n, timeout_s):
    """n sessions opened at once through a proxy whose idle timeout is `timeout_s`; for
    each, when the client saw the close (EOF or RST) minus its deadline (the moment its
    connect completed + timeout_s). Returns p50, p99 and max in ms. The deadline counts
    from the client's side, so the proxy's accept backlog is part of the lateness."""
    socks, connected = open_idle(port, n, hold)
    ep = select.epoll()
    closed = {}
    try:
        if time.monotonic() - min(connected.values()) >= timeout_s:
            raise RuntimeError(f"opening {n} sessions took longer than the {timeout_s} s timeout")
        for fd in socks:
            ep.register(fd, select.EPOLLIN | select.EPOLLRDHUP)
        give_up = max(connected.values()) + timeout_s + 30
        while len(closed) < n and time.monotonic() < give_up:
            events = ep.poll(0.5)
            now = time.monotonic()  # one clock reading per batch: Python's time stays out
            for fd, _ in events:
                closed[fd] = now
                ep.unregister(fd)
        if len(closed) < n:
            raise RuntimeError(f"{n - len(closed)} of {n} sessions were never closed")
    finally:
        ep.close()
        for s in socks.values():
            _rst_close(s)
    lateness = [(closed[fd] - connected[fd] - timeout_s) * 1000 for fd in closed]
    return {"timer_p50": summary.quantile(lateness, 0.5), "timer_p99": summary.quantile(lateness, 0.99),
            "timer_max": max(lateness), "open_spread_s": max(connected.values()) - min(connected.values())}


# dropsim's histogram of how late its timers fired (GET /metrics).
_LATENESS_BUCKET = re.compile(r'^dropsim_timer_lateness_seconds_bucket\{proxy="[^"]*",le="([^"]+)"\} (\d+)$', re.M)


def lateness_from_metrics(text):
    """dropsim's own view of its idle timers, from its dropsim_timer_lateness_seconds
    histogram: the bucket bounds (ms) that hold p50 and p99 of the firings, the share
    that fired within 2 ms, and how many fired; {} when none did. A bucket bound is an
    upper bound: "p99 ≤ 2 ms"."""
    buckets = [(math.inf if le == "+Inf" else float(le) * 1000, int(n)) for le, n in _LATENESS_BUCKET.findall(text)]
    count = buckets[-1][1] if buckets else 0
    if count == 0:
        return {}

    def bound(q):
        return next(le for le, n in buckets if n >= q * count)

    within_2ms = next((n for le, n in buckets if le == 2.0), 0)
    return {"timer_own_p50": bound(0.5), "timer_own_p99": bound(0.99),
            "timer_own_within_2ms": 100.0 * within_2ms / count, "timer_own_count": count}


def own_lateness(api_port, timeout=5):
    """lateness_from_metrics of the dropsim whose API is on 127.0.0.1:api_port."""
    with urllib.request.urlopen(f"http://127.0.0.1:{api_port}/metrics", timeout=timeout) as r:
        return lateness_from_metrics(r.read().decode())
