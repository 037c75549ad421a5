"""The processes bench/compare.py measures and feeds: real nginx and HAProxy from configs
generated into a temporary directory, dropsim with a profile, and the backends (iperf3,
sockperf, bench/compare/backend.py). Each is started in a process group of its own and
stopped by it (SIGTERM, then SIGKILL), so nothing outlives the harness.

Everything binds 127.0.0.1. nginx and HAProxy get a free port in their config (the
conformance suite's free_port and listening); dropsim and the backends listen on port 0
and print the port they got.
"""

import os
import re
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.append(os.path.join(HERE, "..", "..", "tests", "conformance"))
from proxies import NGINX_STREAM_MODULE, free_port, listening, program  # noqa: E402
from proxies import _read as read_file  # noqa: E402  (a file's text, '' when unreadable)

START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0


class Process:
    """A started program, leader of its own process group; `port` is where it listens."""

    def __init__(self, name, proc, port, log_path):
        self.name, self.proc, self.port, self.log_path = name, proc, port, log_path
        self.api_port = None  # dropsim with its control API (start_dropsim)

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def pids(self):
        """The leader and its children (nginx's master and worker)."""
        pids = [self.proc.pid]
        try:
            with open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children") as f:
                pids += [int(p) for p in f.read().split()]
        except OSError:
            pass
        return pids

    def stop(self):
        """SIGTERM to the group, SIGKILL to it if the leader lingers past STOP_TIMEOUT."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # stragglers of the group, if any
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pass
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream:
                stream.close()


def spawn(argv, log_path, pipes=False):
    """Starts argv in a new session (its own process group), stderr (and stdout unless
    `pipes`) to log_path; with `pipes`, stdin and stdout are pipes to the harness."""
    with open(log_path, "ab") as log:
        if pipes:
            return subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                    start_new_session=True, text=True, bufsize=1)
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                start_new_session=True)


def wait_listening(name, proc, port, log_path):
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and proc.poll() is None and not listening(port):
        time.sleep(0.01)
    p = Process(name, proc, port, log_path)
    if proc.poll() is None and listening(port):
        return p
    status = proc.poll()
    p.stop()
    raise RuntimeError(start_failure(name, status, read_file(log_path)[-2000:]))


def start_failure(name, status, log):
    """Why `name` did not start, its log's first line on the message's first line: the
    table's notes keep only that line, and a refused option (`dropsim run --threads` on a
    binary without it) must show there, not just `did not start`."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    how = f"exited with status {status}" if status is not None else f"was not listening after {START_TIMEOUT:.0f} s"
    first = f"{name} {how}: {lines[0]}" if lines else f"{name} {how}, its log empty"
    return "\n".join([first] + lines[1:])


# ------------------------------------------------------------------- the proxies

def nginx_config(tmp, module, port, upstream, nofile, timeout=None, workers=1):
    """nginx.conf for `module` "stream" (raw TCP) or "http" (an upgraded connection):
    `workers` worker processes (one but for the scaling rows), `nofile` descriptors for
    each and as many connections as they allow."""
    common = (f"worker_processes {workers};\nworker_rlimit_nofile {nofile};\n"
              f"error_log {tmp}/error.log warn;\npid {tmp}/nginx.pid;\n"
              f"events {{ worker_connections {max(512, nofile - 64)}; }}\n")
    if module == "stream":
        extra = f"        proxy_timeout {timeout};\n" if timeout else ""
        return (f"load_module {NGINX_STREAM_MODULE};\n{common}stream {{\n    server {{\n"
                f"        listen 127.0.0.1:{port} backlog=4096;\n"
                f"        proxy_pass 127.0.0.1:{upstream};\n{extra}    }}\n}}\n")
    temp = "".join(f"    {kind}_temp_path {tmp}/{kind};\n"
                   for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    extra = f"        proxy_read_timeout {timeout};\n" if timeout else ""
    return (f"{common}http {{\n    access_log off;\n{temp}"
            f"    server {{\n      listen 127.0.0.1:{port} backlog=4096;\n      location / {{\n"
            f"        proxy_pass http://127.0.0.1:{upstream};\n"
            "        proxy_http_version 1.1;\n        proxy_set_header Upgrade $http_upgrade;\n"
            f'        proxy_set_header Connection "upgrade";\n{extra}      }}\n    }}\n}}\n')


def haproxy_config(mode, port, upstream, maxconn, timeout=None):
    """haproxy.cfg in `mode` tcp or http: one thread, `maxconn` sessions."""
    idle = timeout or "1h"
    tunnel = f"    timeout tunnel {timeout or '1h'}\n" if mode == "http" else ""
    return (f"global\n    nbthread 1\n    maxconn {maxconn}\n"
            f"defaults\n    mode {mode}\n    timeout connect 5s\n"
            f"    timeout client {idle}\n    timeout server {idle}\n{tunnel}"
            f"frontend fe\n    bind 127.0.0.1:{port}\n    maxconn {maxconn}\n    backlog 4096\n"
            f"    default_backend be\nbackend be\n    server s1 127.0.0.1:{upstream} maxconn {maxconn}\n")


def start_on_free_port(name, log_path, argv_for, busy):
    """Starts the proxy `name` on a free port: argv_for(port) writes its config if it has
    one and returns its argv; another port is tried when the log says `busy` (someone took
    the port between the pick and the bind)."""
    for _ in range(3):
        port = free_port()
        proc = spawn(argv_for(port), log_path)
        try:
            return wait_listening(name, proc, port, log_path)
        except RuntimeError:
            if busy not in read_file(log_path):
                raise
    raise RuntimeError(f"{name} found no free port")


def start_nginx(tmp, module, upstream, nofile, timeout=None, workers=1):
    os.chmod(tmp, 0o755)  # a root master runs its worker as nobody

    def argv(port):
        with open(f"{tmp}/nginx.conf", "w") as f:
            f.write(nginx_config(tmp, module, port, upstream, nofile, timeout, workers))
        return [program("nginx"), "-p", tmp, "-e", f"{tmp}/error.log", "-c", f"{tmp}/nginx.conf", "-g", "daemon off;"]
    # nginx reports a bind failure in error.log and on stderr (nginx.stderr) alike
    return start_on_free_port("nginx", f"{tmp}/nginx.stderr", argv, "Address already in use")


def start_haproxy(tmp, mode, upstream, maxconn, timeout=None):
    def argv(port):
        with open(f"{tmp}/haproxy.cfg", "w") as f:
            f.write(haproxy_config(mode, port, upstream, maxconn, timeout))
        return [program("haproxy"), "-db", "-f", f"{tmp}/haproxy.cfg"]
    return start_on_free_port("haproxy", f"{tmp}/haproxy.stderr", argv, "cannot bind")


def start_dropsim(binary, tmp, profile, upstream, settings=(), extra=(), api=False):
    """`dropsim run` with `profile`, --set for each of `settings`, then `extra`. At --log-level warn
    (nginx's error_log is at warn too: no line per connection) dropsim does not log its
    port, so it gets one picked here, as nginx and HAProxy do. With `api`, its control API
    listens on another picked port, the process's `api_port` (else --no-api)."""
    api_port = []

    def argv(port):
        sets = [a for s in settings for a in ("--set", s)]
        api_port[:] = [free_port()] if api else []
        control = ["--api", f"127.0.0.1:{api_port[0]}"] if api else ["--no-api"]
        return [binary, "--log-level", "warn", "run", *control, "--profile", profile,
                "--listen", f"127.0.0.1:{port}", "--upstream", f"127.0.0.1:{upstream}", *sets, *extra]
    proc = start_on_free_port("dropsim", f"{tmp}/dropsim.log", argv, "in use")
    if api:
        proc.api_port = api_port[0]
    return proc


def start_proxy(target, kind, tmp, upstream, dropsim, nofile, timeout=None, dropsim_args=(), workers=None,
                api=False):
    """The proxy for `target` (nginx, dropsim, haproxy) in `kind` "tcp" or "ws", in front
    of 127.0.0.1:upstream. `timeout`: the idle timeout, as nginx writes it ("2s"), else
    long enough never to fire during a measurement. `dropsim_args` go to `dropsim run`.
    `workers` (the scaling rows): nginx's worker_processes, dropsim's `--threads`; None
    leaves both as the other rows have them (one worker; no --threads, which older
    binaries refuse). `api`: dropsim serves its control API (start_dropsim)."""
    if target == "nginx":
        return start_nginx(tmp, "stream" if kind == "tcp" else "http", upstream, nofile, timeout, workers or 1)
    if target == "haproxy":
        if workers is not None:
            raise ValueError("the scaling rows have no HAProxy target (nbthread stays 1)")
        return start_haproxy(tmp, "tcp" if kind == "tcp" else "http", upstream, max(256, (nofile - 200) // 2),
                             timeout)
    threads = ["--threads", str(workers)] if workers is not None else []
    if kind == "tcp":
        return start_dropsim(dropsim, tmp, "nginx-stream", upstream,
                             [f"proxy_timeout={timeout}"] if timeout else [], [*threads, *dropsim_args], api)
    return start_dropsim(dropsim, tmp, "nginx", upstream, [f"proxy_read_timeout={timeout}"] if timeout else [],
                         [*threads, *dropsim_args], api)


# ------------------------------------------------------------------- the backends

def start_iperf3(tmp):
    log_path = f"{tmp}/iperf3.log"
    port = free_port()
    proc = spawn([program("iperf3"), "-s", "-B", "127.0.0.1", "-p", str(port)], log_path)
    return wait_listening("iperf3", proc, port, log_path)


def start_sockperf(tmp):
    log_path = f"{tmp}/sockperf.log"
    port = free_port()
    proc = spawn([program("sockperf"), "server", "--tcp", "-i", "127.0.0.1", "-p", str(port)], log_path)
    return wait_listening("sockperf", proc, port, log_path)


def start_peer(tmp, role):
    """bench/compare/backend.py `role` (ws or hold); its first line of stdout is its port."""
    log_path = f"{tmp}/peer-{role}.log"
    proc = spawn([sys.executable, os.path.join(HERE, "backend.py"), role], log_path, pipes=True)
    line = proc.stdout.readline()  # backend.py prints its port at once, or dies
    if not line.strip().isdigit():
        Process(role, proc, 0, log_path).stop()
        raise RuntimeError(f"backend.py {role} did not start:\n{read_file(log_path)[-2000:]}")
    return Process(f"backend.py {role}", proc, int(line), log_path)


def held(peer):
    """How many connections a `hold` peer holds now."""
    peer.proc.stdin.write("count\n")
    peer.proc.stdin.flush()
    line = peer.proc.stdout.readline()
    return int(line) if line.strip().isdigit() else -1


def rss_kb(pids):
    """The sum of VmRSS (KB) over `pids`; those that are gone count 0."""
    total = 0
    for pid in pids:
        for line in read_file(f"/proc/{pid}/status").splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


def version(argv, pattern):
    """The first match of `pattern` in what `argv` prints, or 'unknown'."""
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    m = re.search(pattern, out.stdout + out.stderr)
    return m.group(1) if m else "unknown"
