"""The two ends of one proxied connection: a client and a backend, each scripted, each
recording how the connection ended on its side.

    client ──► proxy under test (nginx, HAProxy or dropsim) ──► backend (127.0.0.1)

Both speak a minimal WebSocket (wsproto.py) or raw TCP. Each side runs its own loop in
a thread, on one socket, and records events as (kind, seconds since its own time zero):
the upgrade (101 received by the client, sent by the backend) or, for raw TCP, the
connect/accept.

How an end is told apart, on Linux:
- EOF: recv() returned b'' (a FIN arrived).
- RST: recv()/send() raised ECONNRESET, or TCP_INFO says the socket went to CLOSE while
  the side was not reading (a client that stopped reading sees an RST only that way).
- EOF+RST: a FIN, then an RST within RST_AFTER_FIN (HAProxy tcp mode). recv() keeps
  returning b'' after a FIN, so the RST is seen in TCP_INFO's state (CLOSE instead of
  CLOSE_WAIT). The side sends nothing after an EOF unless its script says so, and
  checks the state before every send, so an RST it provoked itself is not mistaken
  for one the proxy sent.
- close NNNN: a WebSocket close frame and its code; HTTP NNN: a refused upgrade.
"""

import collections
import copy
import errno
import select
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Optional

import wsproto

# TCP states from TCP_INFO (include/net/tcp_states.h).
ESTABLISHED, FIN_WAIT1, FIN_WAIT2, TIME_WAIT, CLOSE, CLOSE_WAIT = 1, 4, 5, 6, 7, 8
SENDABLE_STATES = (ESTABLISHED, CLOSE_WAIT)

RST_AFTER_FIN = 0.05   # an RST this soon after a FIN is one event: EOF+RST
STATE_POLL = 0.01      # how often the state is checked while not reading
HANDSHAKE_TIMEOUT = 5.0
CLIENT_DONE_GRACE = 0.25  # after the client's connection ended, the backend watches this long
CHUNK = 64 * 1024


@dataclass
class Script:
    """What one side does, in seconds since its time zero. Pings are always answered
    with pongs; a close frame is answered with a close frame unless answer_close is off."""
    send_every: Optional[float] = None  # a small data message (raw TCP: a byte) this often
    send_from: float = 0.0              # the first one at this time
    ping_every: Optional[float] = None  # a ping this often (from the first interval on)
    shut_at: Optional[float] = None     # shutdown(SHUT_WR): a FIN, keep reading
    close_at: Optional[float] = None    # a WebSocket close frame with close_code
    close_code: int = 1001
    big_at: Optional[float] = None      # one message of big_size bytes
    big_size: int = 4 << 20
    echo: bool = False                  # send every data message back
    ack_big: bool = False               # answer a message of 1 MiB or more with a short one
    flood: bool = False                 # write as fast as the socket takes, from time zero
    read_from: float = 0.0              # do not read before this (a client that stops reading)
    after_eof: str = "stop"             # "stop": fall silent after a FIN; "send": keep sending
    answer_close: bool = True           # answer a close frame with one (False: only record it)
    # A refused upgrade (nginx without the upgrade headers) repeated this many times: the
    # client sends it again on the same connection after each answer, then waits for the
    # connection's end; the backend accepts and answers as many more connections.
    again_after_refusal: int = 0


@dataclass
class SideResult:
    """What one side saw."""
    events: list = field(default_factory=list)  # [(kind, seconds since time zero)]
    stats: dict = field(default_factory=dict)   # counters and what the backend was asked
    error: Optional[str] = None                 # the harness itself failed here
    t0: Optional[float] = None     # time zero, on the monotonic clock both sides share
    shut: Optional[float] = None   # when this side sent its FIN (shut_at), same clock


class OutQueue:
    """What a side has yet to write: whole byte strings queued as they are, never joined,
    so that queueing a 96 MiB message copies nothing (see wsproto.frame_parts)."""

    def __init__(self):
        self.parts = collections.deque()
        self.offset = 0   # bytes of parts[0] already written
        self.size = 0

    def __len__(self):
        return self.size

    def add(self, data):
        if data:
            self.parts.append(data)
            self.size += len(data)

    def head(self, limit):
        """Up to `limit` bytes from the front, without copying."""
        return memoryview(self.parts[0])[self.offset:self.offset + limit]

    def consume(self, n):
        self.size -= n
        while n:
            left = len(self.parts[0]) - self.offset
            if n < left:
                self.offset += n
                return
            n -= left
            self.parts.popleft()
            self.offset = 0

    def clear(self):
        self.parts.clear()
        self.offset = self.size = 0


def tcp_state(sock):
    """The kernel's TCP state of `sock` (ESTABLISHED, CLOSE_WAIT, ...), None if unknown."""
    try:
        return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]
    except OSError:
        return None


class Shared:
    """What the two sides of one connection share: when to stop, and an action on the
    proxy (a config reload, ...) at a time after the client's time zero."""

    def __init__(self, duration, action=None):
        self.deadline = time.monotonic() + duration + HANDSHAKE_TIMEOUT
        self.duration = duration
        self.lock = threading.Lock()
        self.action = action        # (seconds after time zero, callable) or None
        self.action_error = None    # what the action raised, if anything

    def start(self, t0):
        """Both sides run for `duration` from the client's time zero; the action, if
        any, runs on its own thread at its time."""
        with self.lock:
            self.deadline = min(self.deadline, t0 + self.duration)
        if self.action is not None:
            at, act = self.action
            threading.Thread(target=self._act, args=(t0 + at, act), daemon=True).start()

    def _act(self, when, act):
        time.sleep(max(0.0, when - time.monotonic()))
        try:
            act()
        except Exception as e:  # reported as the run's error
            self.action_error = f"the action on the proxy failed: {e}"

    def client_done(self, now):
        """The client's connection ended: the backend gets a short grace to see its end."""
        with self.lock:
            self.deadline = min(self.deadline, now + CLIENT_DONE_GRACE)


class Peer:
    """One side's loop: timed actions, reads, writes, and the record of how it ended."""

    def __init__(self, role, script, ws, shared):
        self.role, self.ws, self.shared = role, ws, shared
        self.script = copy.copy(script)  # timed one-shot actions are cleared as they run
        self.sock = None
        self.t0 = None
        self.result = SideResult(stats={"rx_messages": 0, "rx_bytes": 0, "pongs": 0, "big": []})
        self.reader = wsproto.FrameReader()
        self.rbuf = bytearray(1 << 18)
        self.out = OutQueue()
        self.next_send = script.send_from if script.send_every else None
        self.next_ping = script.ping_every
        self.got_eof = None      # time of the FIN, if any
        self.ended = False       # RST or CLOSE: nothing more will happen
        self.shut = False        # we sent our FIN
        self.close_sent = False  # we sent a close frame
        self.last_send = None

    # --- recording ---------------------------------------------------------------

    def now(self):
        return time.monotonic() - self.t0

    def record(self, kind):
        self.result.events.append((kind, round(self.now(), 4)))

    # --- the loop ----------------------------------------------------------------

    def run(self, leftover=b""):
        """Runs until the shared deadline or until the connection is gone."""
        self.sock.setblocking(False)
        self.result.t0 = self.t0
        if leftover:
            self.on_data(leftover)
        while not self.ended:
            mono = time.monotonic()
            if mono >= self.shared.deadline:
                break
            self.timed_actions()
            self.flush()
            if self.ended:
                break
            self.wait(self.shared.deadline - mono)
            if self.role == "client" and self.done_for_client():
                self.shared.client_done(time.monotonic())

    def done_for_client(self):
        if self.ended:
            return True
        if self.got_eof is None or self.script.after_eof == "send":
            return False
        return self.now() - self.got_eof > 2 * RST_AFTER_FIN

    def reading(self):
        return self.got_eof is None and self.now() >= self.script.read_from

    def wait(self, left):
        timeout = min(left, self.next_action_in(), 0.05)
        if not self.reading():
            timeout = min(timeout, STATE_POLL)
        self.refill_flood()
        rlist = [self.sock] if self.reading() else []
        wlist = [self.sock] if self.out and not self.shut else []
        try:
            readable, writable, _ = select.select(rlist, wlist, [], max(timeout, 0))
        except (OSError, ValueError):
            self.ended = True
            return
        if writable:
            self.flush()
        if readable:
            self.receive()
        if not self.reading():
            self.check_state()

    def next_action_in(self):
        t = self.now()
        times = [x for x in (self.next_send, self.next_ping, self.script.shut_at,
                             self.script.close_at, self.script.big_at) if x is not None]
        if self.script.read_from > t:
            times.append(self.script.read_from)
        return min([x - t for x in times if x > t] + [1.0])

    # --- actions -----------------------------------------------------------------

    def may_send(self):
        if self.shut or self.close_sent or self.ended:
            return False
        return self.got_eof is None or self.script.after_eof == "send"

    def timed_actions(self):
        s, t = self.script, self.now()
        if self.next_send is not None and t >= self.next_send:
            self.queue_message(b"x")
            self.next_send += s.send_every
        if self.next_ping is not None and t >= self.next_ping:
            self.queue(wsproto.OP_PING, b"hb")
            self.next_ping += s.ping_every
        if s.big_at is not None and t >= s.big_at:
            s.big_at = None
            self.queue(wsproto.OP_BINARY, bytes(s.big_size), key=wsproto.ZERO_KEY)
        if s.close_at is not None and t >= s.close_at:
            s.close_at = None
            self.queue(wsproto.OP_CLOSE, wsproto.close_payload(s.close_code))
            self.close_sent = True
        self.refill_flood()
        if s.shut_at is not None and t >= s.shut_at and not self.shut:
            s.shut_at = None
            self.flush()
            self.shut_down()

    def refill_flood(self):
        """A flooding side always has 256 KiB more queued: it writes as fast as the socket takes."""
        if self.script.flood and len(self.out) < 4 * CHUNK and self.may_send():
            for _ in range(4):
                self.queue_message(bytes(CHUNK))

    def queue_message(self, payload):
        if self.ws:
            self.queue(wsproto.OP_BINARY, payload)
        elif self.may_send():
            self.out.add(payload)

    def queue(self, opcode, payload, key=None):
        if not self.ws:
            return
        closing = opcode == wsproto.OP_CLOSE and not self.close_sent
        if self.may_send() or closing:
            for part in wsproto.frame_parts(opcode, payload, mask=self.role == "client", key=key):
                self.out.add(part)

    def shut_down(self):
        self.result.shut = time.monotonic()  # before the FIN can leave: every EOF it causes is later
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        self.shut = True

    def flush(self):
        """Writes what is queued, as far as the socket takes it, never into a dead peer."""
        while self.out and not self.shut:
            if tcp_state(self.sock) not in SENDABLE_STATES:
                return
            try:
                n = self.sock.send(self.out.head(1 << 20))
            except BlockingIOError:
                return
            except OSError as e:
                self.out.clear()
                self.send_failed(e)
                return
            self.out.consume(n)
            self.last_send = self.now()

    def send_failed(self, e):
        if not self.ended:
            self.record("RST" if e.errno == errno.ECONNRESET else f"send {errno.errorcode.get(e.errno, e)}")
            self.ended = True

    # --- input -------------------------------------------------------------------

    def receive(self):
        try:
            # Into one buffer kept for the connection: a fresh 256 KiB object per recv()
            # cost 2.3 ms of page faults here, 0.9 s of a 96 MiB transfer's 0.75 s.
            n = self.sock.recv_into(self.rbuf)
        except BlockingIOError:
            return
        except ConnectionResetError:
            self.record("RST")
            self.ended = True
            return
        except OSError as e:
            self.send_failed(e)
            return
        if not n:
            self.got_eof = self.now()
            self.record("EOF")
            return
        self.on_data(memoryview(self.rbuf)[:n])

    def on_data(self, data):
        stats = self.result.stats
        stats["rx_bytes"] += len(data)
        if not self.ws:
            stats["rx_messages"] += 1
            if self.script.echo:
                self.out.add(bytes(data))  # data is a view of the receive buffer
            return
        try:
            frames = self.reader.feed(data)
        except ValueError as e:  # the proxy changed the bytes: the harness reports it
            self.result.error = str(e)
            self.ended = True
            return
        for opcode, payload in frames:
            self.on_frame(opcode, payload)

    def on_frame(self, opcode, payload):
        stats = self.result.stats
        if opcode == wsproto.OP_PING:
            self.queue(wsproto.OP_PONG, payload)
        elif opcode == wsproto.OP_PONG:
            stats["pongs"] += 1
        elif opcode == wsproto.OP_CLOSE:
            code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
            self.record(f"close {code}")
            if not self.script.answer_close:
                return
            self.queue(wsproto.OP_CLOSE, payload[:2])
            self.close_sent = True
            if self.role == "server":  # the server closes the TCP connection first (RFC 6455 7.1.1)
                self.flush()
                self.shut_down()
        else:
            stats["rx_messages"] += 1
            if len(payload) >= 1 << 20:
                stats["big"].append(len(payload))
                if self.script.ack_big:
                    self.queue(wsproto.OP_TEXT, b"got it")
            if self.script.echo:
                self.queue(opcode, payload)

    def check_state(self):
        """While not reading: an RST shows as the state CLOSE."""
        if self.ended:
            return
        if self.shut and self.got_eof is not None:
            self.ended = True  # our FIN and theirs: closed cleanly, nothing more to see
            return
        if tcp_state(self.sock) != CLOSE:
            return
        events = self.result.events
        quiet = self.last_send is None or self.got_eof is None or self.last_send < self.got_eof
        if (events and events[-1][0] == "EOF" and quiet
                and self.now() - self.got_eof <= RST_AFTER_FIN):
            events[-1] = ("EOF+RST", events[-1][1])
        else:
            self.record("RST")
        self.ended = True


# --- handshakes ------------------------------------------------------------------

def read_head(sock, timeout):
    """Reads an HTTP head; returns (HttpHead or None, bytes after it)."""
    sock.settimeout(timeout)
    buffer = b""
    while True:
        head, rest = wsproto.split_head(buffer)
        if head is not None:
            return head, rest
        try:
            data = sock.recv(65536)
        except (socket.timeout, OSError):
            return None, buffer
        if not data:
            return None, buffer
        buffer += data


def run_client(peer, port):
    """Connects through the proxy, upgrades (ws) and runs the client's script."""
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=HANDSHAKE_TIMEOUT)
    except OSError as e:
        peer.result.error = f"connect failed: {e}"
        return
    peer.sock = sock
    leftover = b""
    if peer.ws:
        request, key = wsproto.upgrade_request(f"127.0.0.1:{port}")
        sent = time.monotonic()
        sock.sendall(request)
        head, leftover = read_head(sock, HANDSHAKE_TIMEOUT)
        peer.t0 = time.monotonic()
        if head is None:
            peer.t0 = sent
            peer.record("EOF" if not leftover else "no HTTP response")
            peer.shared.client_done(time.monotonic())
            return
        if head.status() != 101:
            peer.t0 = sent
            peer.record(f"HTTP {head.status()}")
            if peer.script.again_after_refusal:
                refused_again(peer, sock, request)
            peer.shared.client_done(time.monotonic())
            return
        if head.header("sec-websocket-accept") != wsproto.accept_key(key):
            peer.result.error = "wrong Sec-WebSocket-Accept"
    else:
        peer.t0 = time.monotonic()
    peer.shared.start(peer.t0)
    peer.run(leftover)
    peer.shared.client_done(time.monotonic())


def refused_again(peer, sock, request):
    """After a refused upgrade: the same request again on the same connection, as many
    times as the script says (each answer recorded), then the connection's end."""
    for _ in range(peer.script.again_after_refusal):
        try:
            sock.sendall(request)
        except OSError as e:
            peer.record("RST" if isinstance(e, ConnectionResetError) else "send failed")
            return
        head, _ = read_head(sock, HANDSHAKE_TIMEOUT)
        if head is None:
            peer.record("EOF")
            return
        peer.record(f"HTTP {head.status()}")
    sock.settimeout(max(0.0, peer.shared.deadline - time.monotonic()))
    try:
        while sock.recv(65536):
            pass
        peer.record("EOF")
    except ConnectionResetError:
        peer.record("RST")
    except socket.timeout:
        pass


def run_backend(peer, listener):
    """Accepts the proxy's connection, answers the upgrade (ws) and runs the script."""
    listener.settimeout(HANDSHAKE_TIMEOUT)
    try:
        sock, _ = listener.accept()
    except OSError:
        peer.result.stats["request"] = "no connection"
        return
    peer.sock = sock
    leftover = b""
    if peer.ws:
        head, leftover = read_head(sock, HANDSHAKE_TIMEOUT)
        peer.t0 = time.monotonic()
        if head is None:
            peer.result.stats["request"] = "no request"
            return
        upgrade = "websocket" in head.header("upgrade").lower()
        peer.result.stats["request"] = (f"{head.version()}, Upgrade: {head.header('upgrade') or '-'}, "
                                        f"Connection: {head.header('connection').lower() or '-'}")
        if not upgrade:
            sock.sendall(wsproto.upgrade_required())
            sock.shutdown(socket.SHUT_WR)
            peer.record("request without Upgrade: answered 426")
            for _ in range(peer.script.again_after_refusal):
                try:
                    again, _ = listener.accept()
                except OSError:
                    peer.record("no further connection")
                    return
                with again:
                    if read_head(again, HANDSHAKE_TIMEOUT)[0] is None:
                        peer.record("no further request")
                        return
                    again.sendall(wsproto.upgrade_required())
                    again.shutdown(socket.SHUT_WR)
                    peer.record("another connection, request without Upgrade: answered 426")
            return
        sock.sendall(wsproto.switching_protocols(head.header("sec-websocket-key")))
    peer.t0 = time.monotonic()
    peer.run(leftover)


def exchange(port, listener, ws, client_script, server_script, duration, action=None):
    """One connection through the proxy listening on `port` to the backend `listener`
    (None: nothing listens there); `action`: (seconds after the client's time zero, a
    callable) to run on the proxy meanwhile.
    Returns (client SideResult, backend SideResult)."""
    shared = Shared(duration, action)
    client = Peer("client", client_script, ws, shared)
    server = Peer("server", server_script, ws, shared)
    if listener is None:  # nothing listens: the proxy's connect is refused
        server.result.stats["request"] = "no connection"
        backend = threading.Thread(target=lambda: None)
    else:
        backend = threading.Thread(target=run_backend, args=(server, listener), daemon=True)
    backend.start()
    try:
        run_client(client, port)
    finally:
        backend.join(duration + 2 * HANDSHAKE_TIMEOUT)
        for peer in (client, server):
            if peer.sock is not None:
                peer.sock.close()
    if shared.action_error and not client.result.error:
        client.result.error = shared.action_error
    return client.result, server.result
