"""dropsim end to end with an independent WebSocket implementation on both sides.

Client and server are Debian's python3-websockets (10.4); between them runs the real
dropsim binary (DROPSIM_BINARY, set by CTest). Everything is on 127.0.0.1 with ports
picked by the kernel, every wait is bounded, and timers are shortened with --set so a
60 s drop takes about a second. Run with /usr/bin/python3 (the interpreter that has the
websockets package):

    DROPSIM_BINARY=build/dropsim /usr/bin/python3 -m unittest -v tests/integration/websocket_test.py
"""

import asyncio
import base64
import json
import os
import random
import re
import signal
import socket
import struct
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request
from pathlib import Path

import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatusCode

REPO = Path(__file__).resolve().parents[2]
BINARY = os.environ.get("DROPSIM_BINARY") or str(REPO / "build" / "dropsim")

START_TIMEOUT = 5.0  # dropsim printing its listening line
STEP = 2.0           # one exchange through the proxy; generous for a loaded 2-core machine


class Dropsim:
    """One `dropsim run` subprocess. Its stderr is drained into `lines` as it comes."""

    def __init__(self, profile, upstream_port, settings=(), time_scale=None, api=False, extra=()):
        self.args = [BINARY, "run", "--profile", profile, "--listen", "127.0.0.1:0",
                     "--upstream", f"127.0.0.1:{upstream_port}", *extra]
        self.args += ["--api", "127.0.0.1:0"] if api else ["--no-api"]
        for s in settings:
            self.args += ["--set", s]
        if time_scale is not None:
            self.args += ["--time-scale", str(time_scale)]
        self.lines = []
        self.port = None
        self.proc = None
        self._changed = asyncio.Event()
        self._drain = None

    async def start(self):
        self.proc = await asyncio.create_subprocess_exec(
            *self.args, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE)
        self._drain = asyncio.ensure_future(self._read_stderr())
        line = await self.wait_for_log("listening on 127.0.0.1:", START_TIMEOUT)
        self.port = int(re.search(r"listening on 127\.0\.0\.1:(\d+)", line).group(1))
        self.api_port = None
        if "--api" in self.args:
            line = await self.wait_for_log("control API listening on 127.0.0.1:", START_TIMEOUT)
            self.api_port = int(re.search(r"control API listening on 127\.0\.0\.1:(\d+)", line).group(1))
        return self

    async def api(self, method, path, body=None):
        """One control API call (standard library HTTP, off the event loop); (status, text)."""
        def call():
            data = None if body is None else json.dumps(body).encode()
            req = urllib.request.Request(f"http://127.0.0.1:{self.api_port}{path}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=STEP) as r:
                    return r.status, r.read().decode()
            except urllib.error.HTTPError as e:
                return e.code, e.read().decode()
        return await asyncio.to_thread(call)

    async def _read_stderr(self):
        while True:
            raw = await self.proc.stderr.readline()
            if not raw:
                break
            self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
            self._changed.set()
        self._changed.set()

    async def wait_for_log(self, needle, timeout=STEP):
        """Returns the first log line containing `needle`, waiting at most `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.lines:
                if needle in line:
                    return line
            if self._drain.done():
                raise AssertionError(f"dropsim exited before logging {needle!r}:\n{self.log()}")
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no log line with {needle!r} within {timeout}s:\n{self.log()}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except asyncio.TimeoutError:
                pass

    def log(self):
        return "\n".join(self.lines)

    def uri(self, path="/chat"):
        return f"ws://127.0.0.1:{self.port}{path}"

    async def stop(self):
        """SIGTERM, then the exit code (0 expected). Kills it if it does not exit in time."""
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.wait_for(self.proc.wait(), 5.0)
        except asyncio.TimeoutError:
            self.proc.kill()
            await self.proc.wait()
            code = "killed after SIGTERM was ignored for 5s"
        try:
            await asyncio.wait_for(self._drain, 2.0)
        except asyncio.TimeoutError:
            self._drain.cancel()
        return code


def connect(uri, **kw):
    kw.setdefault("max_size", None)
    kw.setdefault("ping_interval", None)
    kw.setdefault("close_timeout", 1)
    kw.setdefault("open_timeout", STEP)
    return websockets.connect(uri, **kw)


class DropsimCase(unittest.IsolatedAsyncioTestCase):
    """Gives each test a way to start a WebSocket server and dropsim in front of it;
    both are stopped at the end, and dropsim must exit 0 on SIGTERM."""

    async def asyncSetUp(self):
        # IsolatedAsyncioTestCase runs the loop in debug mode, which warns about every
        # callback over 0.1 s (a 4 MiB send); that is not what these tests are about.
        asyncio.get_running_loop().slow_callback_duration = 5.0
        self._dropsims = []
        self._servers = []
        self.server_got = asyncio.Queue()  # what the server's handler received, in order
        self.server_events = asyncio.Queue()  # other things server handlers report

    async def asyncTearDown(self):
        for d in self._dropsims:
            code = await d.stop()
            if os.environ.get("WEBSOCKET_TEST_LOG"):
                print(f"\n--- dropsim log of {self.id()}:\n{d.log()}", file=sys.stderr)
            self.assertEqual(code, 0, f"dropsim exit code after SIGTERM; its log:\n{d.log()}")
        for s in self._servers:
            s.close()
            await asyncio.wait_for(s.wait_closed(), 3.0)

    async def ws_server(self, handler=None):
        """A websockets server on 127.0.0.1; the default handler records and echoes."""
        async def echo(ws, path=None):
            try:
                async for message in ws:
                    await self.server_got.put(message)
                    await ws.send(message)
            except ConnectionClosed:
                pass
        server = await websockets.serve(handler or echo, "127.0.0.1", 0, max_size=None,
                                        ping_interval=None, close_timeout=1)
        self._servers.append(server)
        return server.sockets[0].getsockname()[1]

    async def server_close(self, with_reason=False):
        """An echo server that records the close code it receives (and its reason)."""
        async def handler(ws, path=None):
            try:
                async for message in ws:
                    await ws.send(message)
            except ConnectionClosed:
                pass
            await ws.wait_closed()
            await self.server_events.put((ws.close_code, ws.close_reason) if with_reason else ws.close_code)
        return await self.ws_server(handler)

    async def dropsim(self, profile, upstream_port, *settings, time_scale=None, api=False, extra=()):
        d = Dropsim(profile, upstream_port, settings, time_scale, api, extra)
        await d.start()
        self._dropsims.append(d)
        return d

    async def echoed(self, ws, message="hi"):
        """Sends `message` and expects it back: the session is open end to end."""
        await ws.send(message)
        self.assertEqual(await asyncio.wait_for(ws.recv(), STEP), message)

    async def closed_by_proxy(self, ws, timeout):
        """Waits (bounded) for `ws` to be closed under us; returns the ConnectionClosed."""
        try:
            await asyncio.wait_for(ws.recv(), timeout)
        except ConnectionClosed as e:
            return e
        self.fail("a message arrived where the connection should have closed")


class Messages(DropsimCase):
    async def test_text_and_binary_both_ways_through_alb(self):
        port = await self.ws_server()
        d = await self.dropsim("alb", port)
        async with connect(d.uri("/chat?room=1")) as ws:
            for message in ["hello", "ünïcödé ✓", b"\x00\x01\xfe\xff", b"x" * 70000, "y" * 200]:
                await asyncio.wait_for(ws.send(message), STEP)
                self.assertEqual(await asyncio.wait_for(self.server_got.get(), STEP), message)
                self.assertEqual(await asyncio.wait_for(ws.recv(), STEP), message)
        await d.wait_for_log("upgraded to WebSocket (GET /chat")

    async def test_4mib_binary_each_way_byte_identical(self):
        rng = random.Random(6455)
        up = rng.randbytes(4 << 20)
        down = rng.randbytes((4 << 20) + 17)

        async def handler(ws, path=None):
            message = await ws.recv()
            await self.server_got.put(message)
            await ws.send(down)
            await ws.wait_closed()

        port = await self.ws_server(handler)
        d = await self.dropsim("alb", port)
        async with connect(d.uri()) as ws:
            await asyncio.wait_for(ws.send(up), 10)
            got_up = await asyncio.wait_for(self.server_got.get(), 10)
            got_down = await asyncio.wait_for(ws.recv(), 10)
        self.assertEqual(len(got_up), len(up))
        self.assertTrue(got_up == up, "the client's 4 MiB arrived changed")
        self.assertEqual(len(got_down), len(down))
        self.assertTrue(got_down == down, "the server's 4 MiB arrived changed")

    async def test_pings_both_ways_get_pongs(self):
        async def handler(ws, path=None):
            # Keep reading (that is what answers the client's pings) while pinging the client.
            reader = asyncio.ensure_future(ws.wait_closed())
            waiter = await ws.ping(b"from-server")
            try:
                await asyncio.wait_for(waiter, STEP)
                await self.server_events.put("server got its pong")
            except asyncio.TimeoutError:
                await self.server_events.put("server's ping got no pong")
            await reader

        port = await self.ws_server(handler)
        d = await self.dropsim("alb", port)
        async with connect(d.uri()) as ws:
            for i in range(3):
                waiter = await ws.ping(f"from-client-{i}".encode())
                await asyncio.wait_for(waiter, STEP)
            self.assertEqual(await asyncio.wait_for(self.server_events.get(), STEP + 1), "server got its pong")

    async def test_server_close_1001_reaches_client_intact(self):
        async def handler(ws, path=None):
            await ws.recv()
            await ws.close(1001, "going away")

        port = await self.ws_server(handler)
        d = await self.dropsim("alb", port)
        async with connect(d.uri()) as ws:
            await ws.send("bye?")
            e = await self.closed_by_proxy(ws, STEP)
        self.assertIsNotNone(e.rcvd, f"no close frame reached the client: {e!r}")
        self.assertEqual(e.rcvd.code, 1001)
        self.assertEqual(e.rcvd.reason, "going away")


class RuntimeControl(DropsimCase):
    """The control API acting on live WebSocket sessions, seen by a real client and server."""


    async def test_drain_through_the_api_closes_both_sides_with_1001(self):
        port = await self.server_close()
        d = await self.dropsim("alb", port, api=True)
        async with connect(d.uri()) as ws:
            await self.echoed(ws)
            status, text = await d.api("POST", "/dropsim/sessions", {"action": "drain"})
            self.assertEqual(status, 200, text)
            self.assertEqual(json.loads(text)["sessions"], 1, text)
            e = await self.closed_by_proxy(ws, STEP)
        self.assertIsNotNone(e.rcvd, f"no close frame reached the client: {e!r}")
        self.assertEqual((e.rcvd.code, e.rcvd.reason), (1001, "going away"))
        self.assertEqual(await asyncio.wait_for(self.server_events.get(), STEP), 1001)
        status, metrics = await d.api("GET", "/metrics")
        self.assertEqual(status, 200)
        self.assertIn('dropsim_websocket_closes_total{proxy="proxy",code="1001"} 1', metrics)
        self.assertIn('dropsim_closes_total{proxy="proxy",cause="api_drain"} 1', metrics)

    async def test_reload_sends_what_the_profile_says_caddy_sends_on_a_config_reload(self):
        # profiles/caddy.yaml, reload: close 1001 (no reason) to the client and the server.
        port = await self.server_close(with_reason=True)
        d = await self.dropsim("caddy", port, api=True)
        async with connect(d.uri()) as ws:
            await self.echoed(ws)
            status, text = await d.api("POST", "/dropsim/sessions", {"action": "reload"})
            self.assertEqual(status, 200, text)
            self.assertEqual(json.loads(text), {"action": "reload", "sessions": 1, "released_blackholed": 0})
            e = await self.closed_by_proxy(ws, STEP)
        self.assertIsNotNone(e.rcvd, f"no close frame reached the client: {e!r}")
        self.assertEqual((e.rcvd.code, e.rcvd.reason), (1001, ""))
        # The server's library checks the mask: the frame toward it is a client's, masked.
        self.assertEqual(await asyncio.wait_for(self.server_events.get(), STEP), (1001, ""))
        status, metrics = await d.api("GET", "/metrics")
        self.assertIn('dropsim_closes_total{proxy="proxy",cause="api_reload"} 1', metrics)
        await d.wait_for_log("closed by the API: reload, as caddy does to open connections on a config reload")

    async def test_reload_is_refused_for_a_profile_that_keeps_connections_across_one(self):
        port = await self.server_close()
        d = await self.dropsim("nginx", port, api=True)
        async with connect(d.uri()) as ws:
            await self.echoed(ws)
            status, text = await d.api("POST", "/dropsim/sessions", {"action": "reload"})
            self.assertEqual(status, 400, text)
            self.assertIn("no proxy's profile defines a reload", text)
            status, text = await d.api("GET", "/dropsim/sessions")
            session = json.loads(text)[0]["id"]
            status, text = await d.api("POST", f"/dropsim/sessions/{session}/reload")
            self.assertEqual(status, 400, text)
            self.assertIn("the profile nginx of proxy proxy defines no reload", text)
            await self.echoed(ws, "still open")

    async def test_ws_close_with_a_code_on_one_session_leaves_the_other(self):
        port = await self.server_close()
        d = await self.dropsim("alb", port, api=True)
        async with connect(d.uri()) as first, connect(d.uri()) as second:
            await first.send("1")
            await asyncio.wait_for(first.recv(), STEP)
            status, text = await d.api("GET", "/dropsim/sessions")
            self.assertEqual(status, 200, text)
            sessions = json.loads(text)
            self.assertEqual(len(sessions), 2, text)
            target = sessions[0]["id"]
            status, text = await d.api("POST", f"/dropsim/sessions/{target}/ws_close",
                                       {"code": 4000, "reason": "test over"})
            self.assertEqual(status, 200, text)
            e = await self.closed_by_proxy(first, STEP)
            self.assertEqual((e.rcvd.code, e.rcvd.reason), (4000, "test over"))
            await second.send("still open")
            self.assertEqual(await asyncio.wait_for(second.recv(), STEP), "still open")

    async def test_sigterm_drains_websockets_with_1001(self):
        port = await self.server_close()
        d = await self.dropsim("alb", port)
        async with connect(d.uri()) as ws:
            await ws.send("hi")
            await asyncio.wait_for(ws.recv(), STEP)
            d.proc.send_signal(signal.SIGTERM)
            e = await self.closed_by_proxy(ws, STEP)
        self.assertEqual(e.rcvd.code if e.rcvd else None, 1001, f"{e!r}\n{d.log()}")
        await d.wait_for_log("SIGTERM: draining 1 session(s) with close 1001")
        # It exits by itself (0); teardown must not send a second SIGTERM to a process
        # that is already unwinding (that one would kill it).
        self.assertEqual(await asyncio.wait_for(d.proc.wait(), 5.0), 0, d.log())


class Drain(DropsimCase):
    """SIGTERM as a restarting server: close 1001 both ways, a clean closing handshake,
    then exit 0; a peer that never answers is closed at --drain-timeout."""

    async def test_sigterm_close_completes_cleanly_on_both_sides(self):
        port = await self.server_close(with_reason=True)
        d = await self.dropsim("alb", port, extra=("--drain-timeout", "3s"))
        async with connect(d.uri()) as ws:
            await self.echoed(ws)
            sent_at = time.monotonic()
            d.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(ws.recv(), STEP)
                self.fail("a message arrived instead of the drain's close")
            except websockets.exceptions.ConnectionClosedOK as e:
                closed = e
            # The closing handshake completed: 1001 received, our reply sent, then the
            # TCP connection closed by dropsim (not a timeout, not a RST).
            await asyncio.wait_for(ws.wait_closed(), STEP)
        self.assertEqual((closed.rcvd.code, closed.rcvd.reason), (1001, "going away"), d.log())
        self.assertIsNotNone(closed.sent, "the client's close reply")
        self.assertTrue(closed.rcvd_then_sent)
        # The server got dropsim's (masked) close frame as a client's, and finished cleanly too.
        self.assertEqual(await asyncio.wait_for(self.server_events.get(), STEP), (1001, "going away"))
        self.assertEqual(await asyncio.wait_for(d.proc.wait(), 5.0), 0, d.log())
        took = time.monotonic() - sent_at
        self.assertLess(took, 2.5, "the drain waited for its timeout although every peer answered")
        await d.wait_for_log("drain: 1 session(s) closed cleanly in")

    async def test_sigterm_closes_a_peer_that_never_answers_at_the_drain_timeout(self):
        port = await self.ws_server()
        d = await self.dropsim("alb", port, extra=("--drain-timeout", "500ms"))
        # A raw client that upgrades, then never reads, answers or closes.
        reader, writer = await asyncio.open_connection("127.0.0.1", d.port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write((f"GET /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), STEP)
        self.assertTrue(head.startswith(b"HTTP/1.1 101"), head)
        await d.wait_for_log("upgraded to WebSocket")
        sent_at = time.monotonic()
        d.proc.send_signal(signal.SIGTERM)
        self.assertEqual(await asyncio.wait_for(d.proc.wait(), 5.0), 0, d.log())
        took = time.monotonic() - sent_at
        self.assertGreaterEqual(took, 0.45, d.log())
        self.assertLess(took, 2.5, d.log())
        await d.wait_for_log("drain: 0 of 1 session(s) closed cleanly; 1 closed at the 0.500s drain timeout")
        # What the silent client had been sent: the close frame 1001, then the end.
        rest = await asyncio.wait_for(reader.read(), STEP)
        self.assertEqual(rest[:2], b"\x88\x0c", rest)
        self.assertEqual(struct.unpack("!H", rest[2:4])[0], 1001)
        self.assertEqual(rest[4:], b"going away")
        writer.close()


class ApiGateway(DropsimCase):
    async def test_frame_over_32kib_closes_client_with_1009(self):
        port = await self.ws_server()
        d = await self.dropsim("api-gateway", port)
        rng = random.Random(1009)
        # Without permessage-deflate a message is one frame of exactly its size on the wire.
        async with connect(d.uri(), compression=None) as ws:
            small = rng.randbytes(30 * 1024)  # under websocket_frame_size (32 KiB): passes
            await ws.send(small)
            self.assertEqual(await asyncio.wait_for(self.server_got.get(), STEP), small)
            self.assertEqual(await asyncio.wait_for(ws.recv(), STEP), small)
            await ws.send(rng.randbytes(40 * 1024))  # one 40 KiB frame: over the quota
            e = await self.closed_by_proxy(ws, STEP)
        self.assertIsNotNone(e.rcvd, f"no close frame reached the client: {e!r}")
        self.assertEqual(e.rcvd.code, 1009)
        line = await d.wait_for_log("[C1] closed")
        self.assertIn("client will see 1009", line)
        self.assertIn("frame of 40960 bytes over the limit of 32768 from client", line)
        # The server never got the oversized message (give it a moment to show up if it would).
        await asyncio.sleep(0.2)
        self.assertTrue(self.server_got.empty(), "the oversized message reached the server")

    async def test_frame_over_32kib_from_the_server_closes_client_with_1009_cleanly(self):
        async def handler(ws, path=None):
            await ws.recv()
            await ws.send(b"x" * (40 * 1024))  # one 40 KiB frame toward the client
            await ws.wait_closed()

        port = await self.ws_server(handler)
        d = await self.dropsim("api-gateway", port)
        async with connect(d.uri(), compression=None) as ws:
            await ws.send("send me too much")
            e = await self.closed_by_proxy(ws, STEP)
            # The closing handshake completes: dropsim read our close reply, no RST.
            await asyncio.wait_for(ws.wait_closed(), STEP)
        self.assertIsNotNone(e.rcvd, f"no close frame reached the client: {e!r}\n{d.log()}")
        self.assertEqual(e.rcvd.code, 1009)
        line = await d.wait_for_log("[C1] closed")
        self.assertIn("client will see 1009", line)
        self.assertIn("from server", line)

    async def deflate_message(self, d):
        """Through `d`, a client offering permessage-deflate (websockets' default, as is the
        server's acceptance) sends 200 KiB of one repeated byte in 25 KiB fragments (each
        under the 32 KiB frame quota); returns the 101's extensions and how it ended:
        "echoed" or the close code the client got."""
        message = b"a" * (200 * 1024)  # over the 128 KiB payload quota; deflates to a few hundred bytes
        async with connect(d.uri()) as ws:
            extensions = ws.response_headers.get("Sec-WebSocket-Extensions", "")
            await ws.send(message[i:i + 25 * 1024] for i in range(0, len(message), 25 * 1024))
            try:
                echoed = await asyncio.wait_for(ws.recv(), STEP)
            except ConnectionClosed as e:
                self.assertIsNotNone(e.rcvd, f"no close frame reached the client: {e!r}")
                return extensions, e.rcvd.code
        self.assertEqual(echoed, message)
        return extensions, "echoed"

    async def test_offer_stripped_quotas_apply_to_exact_sizes(self):
        port = await self.ws_server()
        d = await self.dropsim("api-gateway", port, "permessage_deflate=off")
        extensions, ended = await self.deflate_message(d)
        self.assertEqual(extensions, "", "the server never saw the offer, so nothing was negotiated")
        self.assertEqual(ended, 1009)
        line = await d.wait_for_log("[C1] closed")
        self.assertIn("message of", line)
        await d.wait_for_log("without its Sec-WebSocket-Extensions offer")
        await asyncio.sleep(0.2)
        self.assertTrue(self.server_got.empty(), "the oversized message reached the server")

    async def test_offer_forwarded_by_default_quotas_see_compressed_sizes(self):
        port = await self.ws_server()
        d = await self.dropsim("api-gateway", port)
        extensions, ended = await self.deflate_message(d)
        self.assertIn("permessage-deflate", extensions)
        self.assertEqual(ended, "echoed", "compressed, the 200 KiB message is far under the quota")

    async def test_idle_close_sends_1001(self):
        port = await self.ws_server()
        d = await self.dropsim("api-gateway", port, "idle_connection_timeout=800ms")
        async with connect(d.uri()) as ws:
            await ws.send("one message, then silence")
            await asyncio.wait_for(ws.recv(), STEP)
            started = time.monotonic()
            e = await self.closed_by_proxy(ws, 0.8 + 3)
            waited = time.monotonic() - started
        self.assertIsNotNone(e.rcvd, f"no close frame reached the client: {e!r}")
        self.assertEqual(e.rcvd.code, 1001)
        self.assertEqual(e.rcvd.reason, "Going away")
        self.assertGreater(waited, 0.6)
        line = await d.wait_for_log("closed by idle_connection_timeout")
        self.assertIn("client will see 1001", line)


class IdleHeartbeats(DropsimCase):
    T = 1.0  # idle_timeout, in seconds

    async def pinging_client(self, d, every, duration):
        """Connects, then pings every `every` for `duration`; returns the connection, open."""
        ws = await connect(d.uri())
        end = time.monotonic() + duration
        while time.monotonic() < end:
            await asyncio.sleep(every)
            waiter = await ws.ping()
            await asyncio.wait_for(waiter, STEP)
        return ws

    def server_pinging(self, every):
        """A server that pings every `every` (and echoes what it gets) until the close."""
        async def pinger(ws):
            try:
                while True:
                    await asyncio.sleep(every)
                    await ws.ping()
            except ConnectionClosed:
                pass

        async def handler(ws, path=None):
            task = asyncio.ensure_future(pinger(ws))
            try:
                async for message in ws:
                    await ws.send(message)
            except ConnectionClosed:
                pass
            task.cancel()
            await self.server_events.put("server saw the close")
        return handler

    async def test_client_pings_keep_client_activity_only_alive(self):
        port = await self.ws_server()
        d = await self.dropsim("alb-client-activity-only", port, f"idle_timeout={self.T}")
        ws = await self.pinging_client(d, self.T / 3, 2.5 * self.T)
        try:
            await asyncio.wait_for(ws.send("still here"), STEP)
            self.assertEqual(await asyncio.wait_for(ws.recv(), STEP), "still here")
        finally:
            await ws.close()
        # The heartbeat analysis of that session.
        line = await d.wait_for_log("heartbeat:")
        self.assertIn("client→server: pings every", line)
        self.assertIn("margin", line)
        self.assertRegex(line, r"client→server: pings every 0\.\d+s vs idle_timeout 1s: margin [\d.]+x, ok")

    async def test_server_only_pings_drop_client_activity_only_at_t(self):
        port = await self.ws_server(self.server_pinging(self.T / 3))
        d = await self.dropsim("alb-client-activity-only", port, f"idle_timeout={self.T}")
        async with connect(d.uri()) as ws:
            started = time.monotonic()
            e = await self.closed_by_proxy(ws, 2.5 * self.T)
            waited = time.monotonic() - started
        self.assertIsNone(e.rcvd, f"the client got a close frame: {e!r}")
        self.assertEqual(e.code, 1006)
        self.assertGreater(waited, 0.8 * self.T)
        self.assertLess(waited, 1.8 * self.T)
        line = await d.wait_for_log("closed by idle_timeout")
        self.assertIn("client will see 1006", line)
        self.assertEqual(await asyncio.wait_for(self.server_events.get(), STEP), "server saw the close")

    async def test_server_only_pings_keep_alb_alive(self):
        port = await self.ws_server(self.server_pinging(self.T / 3))
        d = await self.dropsim("alb", port, f"idle_timeout={self.T}")
        async with connect(d.uri()) as ws:
            # Nothing from the client but the automatic pongs for 2.5 T: the server's pings count.
            with self.assertRaises(asyncio.TimeoutError):
                await asyncio.wait_for(ws.recv(), 2.5 * self.T)
            await asyncio.wait_for(ws.send("still here"), STEP)
            self.assertEqual(await asyncio.wait_for(ws.recv(), STEP), "still here")
        self.assertFalse(any("closed by idle_timeout" in l for l in d.lines), d.log())


class Handshake(DropsimCase):
    async def raw_http_server(self, *responses, hold=0.0):
        """A plain TCP server that answers each connection's request head, the n-th with
        the n-th of `responses` (the last one from then on; by default a 400), and closes
        `hold` seconds later; returns its port, a queue of the heads, and the list of
        accept times."""
        responses = responses or (b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",)
        heads = asyncio.Queue()
        accepted = []

        async def handle(reader, writer):
            accepted.append(time.monotonic())
            response = responses[min(len(accepted), len(responses)) - 1]
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), STEP)
                await heads.put(head.decode("latin-1"))
                writer.write(response)
                await writer.drain()
                await asyncio.sleep(hold)
            except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError):
                pass
            finally:
                writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        self._servers.append(server)
        return server.sockets[0].getsockname()[1], heads, accepted

    async def test_nginx_without_websocket_headers_strips_upgrade(self):
        port, heads, _ = await self.raw_http_server()
        d = await self.dropsim("nginx", port, "websocket_headers=off")
        with self.assertRaises(InvalidStatusCode) as caught:
            async with connect(d.uri("/chat")):
                pass
        self.assertEqual(caught.exception.status_code, 400)
        head = await asyncio.wait_for(heads.get(), STEP)
        lines = head.split("\r\n")
        self.assertTrue(lines[0].startswith("GET /chat "), lines[0])
        self.assertTrue(lines[0].endswith("HTTP/1.0"), lines[0])
        lower = [l.lower() for l in lines]
        self.assertIn("connection: close", lower, head)
        self.assertFalse(any(l.startswith("upgrade:") for l in lower), head)
        await d.wait_for_log("strip_upgrade")

    async def test_nginx_without_websocket_headers_keeps_the_client_alive(self):
        # Measured with nginx 1.22 (no proxy_http_version 1.1 / Upgrade / Connection,
        # keepalive_timeout 1s): each upgrade request on one client connection goes to the
        # backend as HTTP/1.0 over a new connection; the client gets each answer as HTTP/1.1
        # with Connection: keep-alive (a close-delimited body chunked) and FIN 1.0 s after
        # the last one.
        body = b"upgrade required\n"
        answers = [b"HTTP/1.1 426 Upgrade Required\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                   % (len(body), body),
                   b"HTTP/1.0 426 Upgrade Required\r\nContent-Type: text/plain\r\n\r\n" + body]
        port, heads, accepted = await self.raw_http_server(*answers)
        d = await self.dropsim("nginx", port, "websocket_headers=off", "keepalive_timeout=1s")
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", d.port), STEP)

        def upgrade(path):
            return (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    f"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()

        writer.write(upgrade("/one"))
        first = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), STEP)
        self.assertTrue(first.startswith(b"HTTP/1.1 426 Upgrade Required\r\n"), first)
        self.assertIn(b"\r\nConnection: keep-alive\r\n", first)
        self.assertIn(b"\r\nContent-Length: 17\r\n", first)
        self.assertEqual(await asyncio.wait_for(reader.readexactly(len(body)), STEP), body)

        writer.write(upgrade("/two"))
        second = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), STEP)
        self.assertTrue(second.startswith(b"HTTP/1.1 426 Upgrade Required\r\n"), second)
        self.assertIn(b"\r\nTransfer-Encoding: chunked\r\n", second)
        self.assertIn(b"\r\nConnection: keep-alive\r\n", second)
        chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
        self.assertEqual(await asyncio.wait_for(reader.readexactly(len(chunked)), STEP), chunked)
        answered = time.monotonic()

        # Then nothing until keepalive_timeout, and FIN.
        self.assertEqual(await asyncio.wait_for(reader.read(), STEP + 1), b"")
        waited = time.monotonic() - answered
        writer.close()
        self.assertGreater(waited, 0.8)
        self.assertEqual(len(accepted), 2, "one upstream connection per request")
        heads = [heads.get_nowait() for _ in range(heads.qsize())]
        self.assertEqual([h.split("\r\n")[0] for h in heads], ["GET /one HTTP/1.0", "GET /two HTTP/1.0"])
        for h in heads:
            self.assertIn("\r\nConnection: close\r\n", h)
            self.assertNotIn("Upgrade:", h)
        line = await d.wait_for_log("[C1] closed")
        self.assertIn("keep-alive idle for", line)

    async def test_nginx_without_websocket_headers_ends_an_exchange_with_the_answer(self):
        # Measured with nginx 1.22: an upstream that holds its connection 3 s after a
        # Content-Length answer does not delay the client's next request (sent upstream
        # 0.5 s later over a new connection): the exchange ends with the answer's last byte.
        answer = b"HTTP/1.1 426 Upgrade Required\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno"
        port, _, accepted = await self.raw_http_server(answer, hold=3 * STEP)
        d = await self.dropsim("nginx", port, "websocket_headers=off", "keepalive_timeout=5s")
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", d.port), STEP)
        upgrade = (b"GET /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        for _ in range(2):
            writer.write(upgrade)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), STEP)
            self.assertIn(b"\r\nConnection: keep-alive\r\n", head)
            self.assertEqual(await asyncio.wait_for(reader.readexactly(2), STEP), b"no")
        writer.close()
        self.assertEqual(len(accepted), 2)
        await d.wait_for_log("the upstream's answer is complete")

    async def test_envoy_rejects_upgrade_with_403(self):
        port = await self.ws_server()
        d = await self.dropsim("envoy", port)
        with self.assertRaises(InvalidStatusCode) as caught:
            async with connect(d.uri()):
                pass
        self.assertEqual(caught.exception.status_code, 403)
        await d.wait_for_log("refused with 403")

    async def test_envoy_refuses_before_any_upstream_connection(self):
        port, _, accepted = await self.raw_http_server(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        d = await self.dropsim("envoy", port)
        with self.assertRaises(InvalidStatusCode) as caught:
            async with connect(d.uri()):
                pass
        self.assertEqual(caught.exception.status_code, 403)
        line = await d.wait_for_log("refused with 403")
        self.assertIn("client", line)
        self.assertNotIn("connected to upstream", d.log())
        # Whatever the backend would have accepted has had time to arrive.
        await asyncio.sleep(0.2)
        self.assertEqual(accepted, [], "Envoy never connects upstream for a refused upgrade")

        # A plain request through the same proxy is forwarded: held until its head was
        # complete, then sent on the new upstream connection.
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", d.port), STEP)
        writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        await writer.drain()
        await asyncio.sleep(0.1)
        self.assertEqual(accepted, [], "no upstream connect before the head is complete")
        writer.write(b"\r\n")
        response = await asyncio.wait_for(reader.read(), STEP)
        writer.close()
        self.assertTrue(response.startswith(b"HTTP/1.1 200 OK"), response)
        self.assertTrue(response.endswith(b"ok"), response)
        self.assertEqual(len(accepted), 1)
        await d.wait_for_log("connected to upstream")

    async def test_request_read_before_the_connect_is_the_one_an_unreachable_upstream_answers(self):
        # A port nothing listens on: bound, never listening.
        closed = socket.socket()
        closed.bind(("127.0.0.1", 0))
        self.addCleanup(closed.close)
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write("name: refusing\nmode: http\nhandshake: reject\n"
                    "connect: {timeout: 1s, on_failure: http_status, http_status: 502}\n")
        self.addCleanup(os.unlink, f.name)
        d = await self.dropsim(f.name, closed.getsockname()[1])
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", d.port), STEP)
        writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        # The head was read before the connect: the 502 answers it at once, not a second head.
        response = await asyncio.wait_for(reader.read(), STEP)
        writer.close()
        self.assertTrue(response.startswith(b"HTTP/1.1 502 Bad Gateway\r\n"), response)

    async def test_envoy_closes_a_silent_client_by_stream_idle_timeout_without_connecting(self):
        port, _, accepted = await self.raw_http_server()
        d = await self.dropsim("envoy", port, "stream_idle_timeout=500ms")
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", d.port), STEP)
        writer.write(b"GET /chat HTTP/1.1\r\n")  # never finished
        await writer.drain()
        started = time.monotonic()
        self.assertEqual(await asyncio.wait_for(reader.read(), STEP + 1), b"")
        elapsed = time.monotonic() - started
        writer.close()
        self.assertGreater(elapsed, 0.35)
        await d.wait_for_log("closed by stream_idle_timeout")
        self.assertEqual(accepted, [])

    async def test_envoy_with_upgrade_configs_accepts(self):
        port = await self.ws_server()
        d = await self.dropsim("envoy", port, "upgrade_configs_websocket=on")
        async with connect(d.uri()) as ws:
            await ws.send("hi envoy")
            self.assertEqual(await asyncio.wait_for(ws.recv(), STEP), "hi envoy")
        await d.wait_for_log("upgraded to WebSocket (GET /chat")


class MalformedFrame(DropsimCase):
    async def test_reserved_opcode_closes_only_that_connection(self):
        port = await self.ws_server()
        d = await self.dropsim("alb", port)
        async with connect(d.uri("/good")) as good:
            await good.send("before")
            self.assertEqual(await asyncio.wait_for(good.recv(), STEP), "before")

            # A handshake by hand, then a masked frame with the reserved opcode 0x3.
            reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", d.port), STEP)
            key = base64.b64encode(os.urandom(16)).decode()
            writer.write((f"GET /bad HTTP/1.1\r\nHost: 127.0.0.1:{d.port}\r\nUpgrade: websocket\r\n"
                          f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                          f"Sec-WebSocket-Version: 13\r\n\r\n").encode())
            response = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), STEP)
            self.assertTrue(response.startswith(b"HTTP/1.1 101"), response)
            payload = b"bad"
            mask = b"\x01\x02\x03\x04"
            masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            writer.write(bytes([0x80 | 0x3, 0x80 | len(payload)]) + mask + masked)
            await writer.drain()
            # dropsim ends that connection: EOF (or a reset) within the bound.
            try:
                rest = await asyncio.wait_for(reader.read(), STEP)
            except ConnectionError:
                rest = b""
            self.assertNotIn(b"bad", rest)
            writer.close()
            await d.wait_for_log("malformed frame from client")

            # The other connection carries on.
            for i in range(3):
                await good.send(f"after {i}")
                self.assertEqual(await asyncio.wait_for(good.recv(), STEP), f"after {i}")
        # The server saw only the good connection's messages.
        got = []
        while not self.server_got.empty():
            got.append(self.server_got.get_nowait())
        self.assertEqual(got, ["before", "after 0", "after 1", "after 2"])


if __name__ == "__main__":
    unittest.main()
