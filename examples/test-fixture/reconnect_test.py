#!/usr/bin/python3
"""dropsim as a test fixture from any language: the real binary, driven over HTTP.

    ResumingClient --> dropsim proxy "app" (profile nlb) --> ResumableServer
                              ^
           the test: POST /dropsim/sessions/{id}/rst, .../blackhole, .../drain

The same scenario as reconnect_test.cpp, standard library only: start
`dropsim run --api 127.0.0.1:0`, create a proxy with POST /proxies, cut the client's
connection three ways, and assert that it reconnects and loses no message.

    /usr/bin/python3 reconnect_test.py build/dropsim [-v]

The protocol is lines over plain TCP (see resumable_server.h), so a drain reaches the
client as a FIN. DROPSIM_EXAMPLE_BREAK_RESUME=1 turns the server's resume off; the test
then fails, as it should.
"""

import http.client
import json
import os
import random
import re
import socket
import subprocess
import sys
import threading
import time
import unittest

DROPSIM = None  # the binary, from the command line


class Dropsim:
    """`dropsim run --api 127.0.0.1:0` for one test: a free port, its log on our stderr."""

    def __init__(self, binary):
        self.proc = subprocess.Popen([binary, "run", "--api", "127.0.0.1:0"], stdin=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        self.port = None
        found = threading.Event()

        def pump_log():
            # Read the log until the process ends, so the pipe never fills; the API's
            # port is on the line "control API listening on 127.0.0.1:PORT".
            with self.proc.stderr:
                for line in self.proc.stderr:
                    sys.stderr.write("dropsim: " + line)
                    match = re.search(r"control API listening on 127\.0\.0\.1:(\d+)", line)
                    if match and not found.is_set():
                        self.port = int(match.group(1))
                        found.set()

        threading.Thread(target=pump_log, daemon=True).start()
        if not found.wait(5):
            self.close()
            raise RuntimeError("dropsim did not report its API address within 5 s")

    def api(self, method, path, body=None):
        """One API call; returns the decoded JSON (None for 204, text for /metrics) or
        raises on an error status."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            conn.request(method, path, body=None if body is None else json.dumps(body),
                         headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            text = response.read().decode()
        finally:
            conn.close()
        if response.status >= 300:
            raise RuntimeError(f"{method} {path}: {response.status} {text}")
        if response.getheader("Content-Type", "").startswith("application/json"):
            return json.loads(text)
        return text or None

    def close(self):
        self.proc.terminate()  # SIGTERM: dropsim drains what is left and exits 0
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class ReconnectBackoff:
    """Exponential backoff with jitter, bounded: the n-th wait is uniform in
    [c/2, c] where c = min(cap, base * 2^(n-1)). reset() after a connection that worked."""

    def __init__(self, base, cap, seed):
        self.base, self.cap, self.attempts = base, cap, 0
        self.rng = random.Random(seed)

    def next(self):
        ceiling = min(self.cap, self.base * 2 ** min(self.attempts, 30))
        self.attempts += 1
        return self.rng.uniform(ceiling / 2, ceiling)

    def reset(self):
        self.attempts = 0


class ResumableServer:
    """Publishes a message to every session every 5 ms into the session's log, and on
    HELLO <token> <last_seq> replays the log after last_seq (see resumable_server.h)."""

    def __init__(self, resume=True, publish_every=0.005, heartbeat_every=0.1):
        self.resume, self.publish_every, self.heartbeat_every = resume, publish_every, heartbeat_every
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.logs = {}  # token -> [b"MSG 1 ...\n", ...]
        self.newest = {}  # token -> the newest connection's number; older ones stop
        self.replayed = 0
        self.paused = False
        threading.Thread(target=self._accept, daemon=True).start()
        threading.Thread(target=self._publish, daemon=True).start()

    def _accept(self):
        while True:
            conn, _ = self.listener.accept()
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _publish(self):
        while True:
            time.sleep(self.publish_every)
            if self.paused:
                continue
            with self.lock:
                for log in self.logs.values():
                    seq = len(log) + 1
                    log.append(f"MSG {seq} hello #{seq}\n".encode())

    def _serve(self, conn):
        conn.settimeout(2)  # no send or read waits forever, even into a blackhole
        try:
            with conn:
                verb, token, last_seq = conn.makefile("rb").readline().decode().split()
                if verb != "HELLO":
                    return
                with self.lock:
                    if token == "-":
                        token = f"s{len(self.logs) + 1}"
                    log = self.logs.setdefault(token, [])
                    me = self.newest[token] = self.newest.get(token, 0) + 1
                    # The resume. Without it a server sends only what is published from now on.
                    sent = min(int(last_seq), len(log)) if self.resume else len(log)
                    self.replayed += len(log) - sent
                out, last_write = f"WELCOME {token}\n".encode(), time.monotonic()
                while True:
                    with self.lock:
                        if self.newest[token] != me:
                            return  # the client is back on a newer connection
                        out += b"".join(log[sent:])
                        sent = len(log)
                    if not out and time.monotonic() - last_write >= self.heartbeat_every:
                        out = b"PING\n"
                    if out:
                        conn.sendall(out)
                        out, last_write = b"", time.monotonic()
                    time.sleep(0.002)
        except (OSError, ValueError):
            pass  # the connection broke; the session and its log stay for the next HELLO


class ResumingClient(threading.Thread):
    """Stays connected whatever the network does: a reset or an end of file ends a
    connection at once, silence after read_timeout (the server PINGs when quiet); then
    it waits backoff.next() and resumes with its token and last sequence number."""

    def __init__(self, port, backoff, read_timeout=0.3):
        super().__init__(daemon=True)
        self.port, self.backoff, self.read_timeout = port, backoff, read_timeout
        self.token, self.last_seq = "-", 0
        self.lock = threading.Lock()
        self.delivered, self.connected_at, self.drops = [], [], []
        self.stopping = threading.Event()

    def progress(self):
        """Copies of (delivered seqs, connection times, drop reasons)."""
        with self.lock:
            return list(self.delivered), list(self.connected_at), list(self.drops)

    def run(self):
        while not self.stopping.is_set():
            try:
                self._connect_and_read()
            except OSError as e:
                with self.lock:
                    self.drops.append(str(e))
            self.stopping.wait(self.backoff.next())

    def _connect_and_read(self):
        with socket.create_connection(("127.0.0.1", self.port), timeout=self.read_timeout) as s:
            s.sendall(f"HELLO {self.token} {self.last_seq}\n".encode())
            buffer = b""
            while not self.stopping.is_set():
                try:
                    chunk = s.recv(65536)
                except TimeoutError:
                    raise TimeoutError(f"no line for {self.read_timeout * 1000:.0f} ms") from None
                if not chunk:
                    raise ConnectionError("end of file: the server or a proxy closed (FIN)")
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    self._handle(line.decode().split())

    def _handle(self, words):
        with self.lock:
            if words[0] == "WELCOME":
                self.token = words[1]
                self.backoff.reset()  # only a connection that worked resets the backoff
                self.connected_at.append(time.monotonic())
            elif words[0] == "MSG":
                self.last_seq = int(words[1])
                self.delivered.append(self.last_seq)
            # PING: its arrival alone is the point


def wait_until(done, timeout):
    """Polls done() every 5 ms; False when timeout (s) passes first."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


class ReconnectTest(unittest.TestCase):
    def setUp(self):
        self.dropsim = Dropsim(DROPSIM)
        self.addCleanup(self.dropsim.close)
        self.server = ResumableServer(resume="DROPSIM_EXAMPLE_BREAK_RESUME" not in os.environ)
        # The proxy: the NLB profile on a free port, in front of the server.
        proxy = self.dropsim.api("POST", "/proxies", {"name": "app", "listen": "127.0.0.1:0",
                                                      "upstream": f"127.0.0.1:{self.server.port}",
                                                      "profile": "nlb"})
        self.proxy_port = int(proxy["listen"].rsplit(":", 1)[1])

    def live_session(self):
        """The id of the one live session through the proxy (the client's)."""
        sessions = []

        def one():
            sessions[:] = self.dropsim.api("GET", "/dropsim/sessions?proxy=app")
            return len(sessions) == 1

        self.assertTrue(wait_until(one, 2), f"expected one session, got {sessions}")
        return sessions[0]["id"]

    def test_reconnects_after_rst_blackhole_and_drain_and_loses_nothing(self):
        client = ResumingClient(self.proxy_port, ReconnectBackoff(0.02, 2.0, seed=1))
        client.start()
        self.addCleanup(client.stopping.set)
        self.assertTrue(wait_until(lambda: len(client.progress()[0]) >= 20, 3), "the client never got going")

        # Quiet for twice the read timeout: the heartbeat keeps a healthy connection up.
        self.server.paused = True
        time.sleep(2 * client.read_timeout)
        self.server.paused = False
        self.assertEqual(client.progress()[2], [], "dropped a quiet but healthy connection")

        api = self.dropsim.api
        cuts = [  # (name, how to cut session `sid`, what the client's drop reason says)
            ("rst", lambda sid: api("POST", f"/dropsim/sessions/{sid}/rst"), "reset by peer"),
            ("blackhole", lambda sid: api("POST", "/proxies/app/sessions", {"action": "blackhole"}), "no line for"),
            ("drain", lambda sid: api("POST", f"/dropsim/sessions/{sid}/drain"), "end of file"),
        ]
        for name, cut, client_sees in cuts:
            with self.subTest(cut=name):
                sid = self.live_session()
                delivered, connected, drops = client.progress()
                replayed_before = self.server.replayed
                cut_at = time.monotonic()
                self.assertEqual(cut(sid)["sessions"], 1)

                def back():  # reconnected, and 20 more messages through the new connection
                    d, c, _ = client.progress()
                    return len(c) > len(connected) and len(d) >= len(delivered) + 20

                self.assertTrue(wait_until(back, 3), "the client did not reconnect within 3 s")
                _, connected_after, drops_after = client.progress()
                self.assertEqual(len(drops_after), len(drops) + 1)
                self.assertIn(client_sees, drops_after[-1])
                print(f"{name}: the client saw \"{drops_after[-1]}\" and was back after "
                      f"{(connected_after[len(connected)] - cut_at) * 1000:.0f} ms; "
                      f"{self.server.replayed - replayed_before} message(s) replayed", flush=True)

        # No loss, no duplicate: message 1, 2, 3, ... each once, in order.
        delivered, connected, drops = client.progress()
        for i, seq in enumerate(delivered, start=1):
            if seq != i:
                self.fail(f"delivery {i} was message {seq}: " +
                          ("messages were lost" if seq > i else "a message came twice"))
        self.assertGreater(self.server.replayed, 0, "nothing was lost in flight: the resume was never tested")
        self.assertEqual(len(drops), 3)
        # dropsim's own counters agree: each session closed by one of the test's cuts.
        metrics = self.dropsim.api("GET", "/metrics")
        for cause in ("api_rst", "api_blackhole", "api_drain"):
            self.assertIn(f'dropsim_closes_total{{proxy="app",cause="{cause}"}} 1\n', metrics)
        print(f"{len(delivered)} messages delivered in order across {len(connected)} connections", flush=True)


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1].startswith("-"):
        sys.exit(f"usage: {sys.argv[0]} PATH/TO/dropsim [unittest options]")
    DROPSIM = sys.argv.pop(1)
    unittest.main()
