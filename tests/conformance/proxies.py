"""The proxies under test, each a foreground process the harness starts and stops by PID:
the real ones (FAMILIES) with configs generated into a temporary directory, and dropsim
with the matching profile and the same settings through --set.

Everything binds 127.0.0.1 only. The real proxies need a port in their config: it is
picked below the kernel's ephemeral range (so no outgoing connection can hold it), and
a start that fails to bind is retried on another port. dropsim listens on port 0 and
prints the port it got.
"""

import os
import random
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field

START_TIMEOUT = 5.0
STOP_TIMEOUT = 3.0
NGINX_STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so"
PORT_RANGE = (20000, 32000)  # below ip_local_port_range (32768-60999 on Debian)

_ports_lock = threading.Lock()
_ports_used = set()


def program(name):
    """The path of `name`, also in the sbin directories a non-root PATH lacks on Debian."""
    return shutil.which(name, path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"]))


@dataclass(frozen=True)
class Family:
    """A real proxy the suite compares dropsim with: its key (a scenario's field, the
    matrix's column), its name as people write it, the program and Debian package that
    provide it, and how to ask it for its version."""
    key: str
    title: str
    program: str
    package: str
    version_argv: tuple


# The real systems, in the matrix's column order. A scenario names a set-up for some of
# them (scenarios.Scenario's fields of the same names).
FAMILIES = (
    Family("nginx", "nginx", "nginx", "nginx-light", ("-v",)),
    Family("haproxy", "HAProxy", "haproxy", "haproxy", ("-v",)),
    Family("apache", "Apache httpd", "apache2", "apache2", ("-v",)),
    Family("caddy", "Caddy", "caddy", "caddy", ("version",)),
)


def missing_programs():
    """What the real proxies need and is not installed, as sentences (empty: all there)."""
    missing = [f"{f.program} is not installed (package {f.package})" for f in FAMILIES if program(f.program) is None]
    if not os.path.exists(NGINX_STREAM_MODULE):
        missing.append(f"{NGINX_STREAM_MODULE} is missing (package libnginx-mod-stream)")
    return missing


def version(family):
    """The first line `family`'s program prints about its version, trimmed; "?" if none."""
    try:
        out = subprocess.run([program(family.program), *family.version_argv], capture_output=True, text=True,
                             timeout=5)
        line = (out.stdout + out.stderr).strip().splitlines()[0]
    except (OSError, TypeError, IndexError, subprocess.SubprocessError):
        return "?"
    if family.key == "nginx":
        return line.replace("nginx version: ", "")
    if family.key == "haproxy":
        return " ".join(line.split()[:3])
    if family.key == "apache":
        return line.replace("Server version: ", "")
    if family.key == "caddy":
        return f"Caddy {line.split()[0]}"
    return line


def free_port():
    """A port nothing listens on now and this run has not handed out before."""
    with _ports_lock:
        while True:
            port = random.randrange(*PORT_RANGE)
            if port in _ports_used:
                continue
            probe = socket.socket()
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            finally:
                probe.close()
            _ports_used.add(port)
            return port


def listening(port):
    """True once a socket listens on 127.0.0.1:port (read from /proc, no connection made:
    a probe connection would reach the backend through a tcp-mode proxy)."""
    needle = f"0100007F:{port:04X} 00000000:0000 0A"
    with open("/proc/net/tcp") as f:
        return any(needle in line for line in f)


@dataclass
class NginxSetup:
    """An nginx location (module http, the `nginx` profile) or stream server (module
    stream, `nginx-stream`). Directive names are also dropsim's setting names."""
    module: str = "http"
    directives: dict = field(default_factory=dict)
    websocket_headers: bool = True  # proxy_http_version 1.1 + Upgrade/Connection headers

    def profile(self):
        return "nginx" if self.module == "http" else "nginx-stream"

    def dropsim_settings(self):
        sets = [f"{k}={v}" for k, v in self.directives.items()]
        if self.module == "http" and not self.websocket_headers:
            sets.append("websocket_headers=off")
        return sets

    def config(self, tmp, port, upstream):
        body = "".join(f"        {k} {v};\n" for k, v in self.directives.items())
        common = (f"worker_processes 1;\nerror_log {tmp}/error.log info;\n"
                  "events { worker_connections 256; }\n")
        if self.module == "stream":
            return (f"load_module {NGINX_STREAM_MODULE};\n{common}stream {{\n    server {{\n"
                    f"        listen 127.0.0.1:{port};\n        proxy_pass 127.0.0.1:{upstream};\n"
                    f"        proxy_connect_timeout 1s;\n{body}    }}\n}}\n")
        headers = ("        proxy_http_version 1.1;\n        proxy_set_header Upgrade $http_upgrade;\n"
                   '        proxy_set_header Connection "upgrade";\n') if self.websocket_headers else ""
        temp = "".join(f"    {kind}_temp_path {tmp}/{kind};\n"
                       for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        return (f"{common}http {{\n    access_log {tmp}/access.log;\n{temp}"
                f"    server {{\n      listen 127.0.0.1:{port};\n      location / {{\n"
                f"        proxy_pass http://127.0.0.1:{upstream};\n        proxy_connect_timeout 1s;\n"
                f"{headers}{body}      }}\n    }}\n}}\n")

    def argv(self, tmp):
        return [program("nginx"), "-p", tmp, "-e", f"{tmp}/error.log", "-c", f"{tmp}/proxy.conf",
                "-g", f"daemon off; pid {tmp}/nginx.pid;"]


@dataclass
class HaproxySetup:
    """HAProxy in mode http (the `haproxy` profile) or tcp (`haproxy-tcp`). Keys are
    HAProxy's words ("timeout tunnel", "option independent-streams"); dropsim's setting
    names are the same with underscores."""
    mode: str = "http"
    settings: dict = field(default_factory=dict)

    def profile(self):
        return "haproxy" if self.mode == "http" else "haproxy-tcp"

    def dropsim_settings(self):
        sets = ["timeout_connect=1s"]
        for k, v in self.settings.items():
            name = k.replace(" ", "_").replace("-", "_")
            sets.append(f"{name}={'on' if v is True else v}")
        return sets

    def config(self, tmp, port, upstream):
        lines = [f"    {k}" if v is True else f"    {k} {v}" for k, v in self.settings.items()]
        return ("global\n    maxconn 256\ndefaults\n"
                f"    mode {self.mode}\n    timeout connect 1s\n" + "\n".join(lines) + "\n"
                f"frontend fe\n    bind 127.0.0.1:{port}\n    default_backend be\n"
                f"backend be\n    server s1 127.0.0.1:{upstream}\n")

    def argv(self, tmp):
        return [program("haproxy"), "-db", "-f", f"{tmp}/proxy.conf"]


class ProxyProcess:
    """One started proxy: its PID, the port it listens on, its log."""

    def __init__(self, proc, port, log_path):
        self.proc, self.port, self.log_path = proc, port, log_path

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        """SIGTERM to the PID (nginx's master stops its worker), SIGKILL if it lingers."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _spawn(argv, log_path, env=None, cwd=None):
    log = open(log_path, "ab")
    try:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env, cwd=cwd)
    finally:
        log.close()


def _read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def start_real(setup, tmp, upstream):
    """Starts the real proxy for `setup`; retries on another port if it cannot bind."""
    os.chmod(tmp, 0o755)  # nginx's worker runs as nobody
    log_path = f"{tmp}/stderr.log"
    for _ in range(3):
        port = free_port()
        with open(f"{tmp}/proxy.conf", "w") as f:
            f.write(setup.config(tmp, port, upstream))
        # A set-up may give the environment its program needs (e.g. HOME and XDG
        # directories inside tmp); the program then also runs in tmp.
        env = setup.env(tmp) if hasattr(setup, "env") else None
        proc = _spawn(setup.argv(tmp), log_path, env=env, cwd=tmp if env else None)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and proc.poll() is None and not listening(port):
            time.sleep(0.01)
        if proc.poll() is None and listening(port):
            return ProxyProcess(proc, port, log_path)
        ProxyProcess(proc, port, log_path).stop()
        output = _read(log_path) + _read(f"{tmp}/error.log")
        if "address already in use" not in output.lower() and "cannot bind" not in output:
            break
    raise RuntimeError(f"{os.path.basename(setup.argv(tmp)[0])} did not start:\n{_read(log_path)}{_read(f'{tmp}/error.log')}")


def start_dropsim(binary, setup, tmp, upstream, api=False):
    """Starts dropsim with the profile and settings matching `setup` on a port it picks;
    with `api`, also its control API on a port it picks (the process's `api_port`)."""
    log_path = f"{tmp}/dropsim.log"
    argv = [binary, "run", "--api" if api else "--no-api", *(["127.0.0.1:0"] if api else []),
            "--profile", setup.profile(), "--listen", "127.0.0.1:0", "--upstream", f"127.0.0.1:{upstream}"]
    for s in setup.dropsim_settings():
        argv += ["--set", s]
    proc = _spawn(argv, log_path)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and proc.poll() is None:
        text = _read(log_path)
        m = re.search(r"(?<!API )listening on 127\.0\.0\.1:(\d+)", text)
        a = re.search(r"control API listening on 127\.0\.0\.1:(\d+)", text)
        if m and (a or not api):
            started = ProxyProcess(proc, int(m.group(1)), log_path)
            started.api_port = int(a.group(1)) if a else None
            return started
        time.sleep(0.01)
    ProxyProcess(proc, 0, log_path).stop()
    raise RuntimeError(f"dropsim did not start ({' '.join(argv)}):\n{_read(log_path)}")
