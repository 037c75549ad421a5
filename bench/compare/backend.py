#!/usr/bin/python3
"""The backends of bench/compare.py that Debian has no tool for, each its own process so
that it does not share the harness's interpreter lock:

    backend.py ws     a WebSocket server for the bulk test: answers the upgrade, then sends
                    256 KiB binary messages as fast as the socket takes them while it
                    counts what the client sends; on the client's close frame it stops,
                    sends a text message "<payload bytes received> <seconds>" and a close
                    frame.
    backend.py hold   accepts connections and holds them, idle, until the peer closes; a
                    line on stdin is answered with the number held now.

Both listen on 127.0.0.1, port 0, and print the port as their first line of stdout. They
stop when stdin closes (the harness exits) or on SIGTERM.
"""

import os
import selectors
import socket
import struct
import sys
import threading
import time

sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "conformance"))
import wsproto  # noqa: E402  (the handshake and frame helpers of the conformance suite)

MESSAGE = 256 * 1024
RECV_SIZE = 1 << 20
HANDSHAKE_TIMEOUT = 5.0
IO_TIMEOUT = 30.0  # no send or recv of a bulk connection blocks longer than this


def bulk_frame(mask):
    """One binary message of MESSAGE zero bytes, ready to send again and again: masked with
    a zero key when `mask` (a client's), so the payload needs no XOR and no copy."""
    return wsproto.encode_frame(wsproto.OP_BINARY, bytes(MESSAGE), mask=mask,
                                key=wsproto.ZERO_KEY if mask else None)


class FrameSkipper:
    """Reads a WebSocket byte stream looking only at frame heads: binary payloads are
    counted and skipped, never copied; other frames (text, close, ping) are returned with
    their payload. Cheap enough in Python for multi-Gbit/s streams of big messages."""

    def __init__(self):
        self.binary_bytes = 0
        self._head = bytearray()
        self._left = 0          # payload bytes of the current frame still to come
        self._opcode = None
        self._key = b""
        self._payload = None    # the current non-binary frame's payload so far

    def feed(self, data):
        """Consumes `data` (bytes or memoryview); returns [(opcode, payload)] of the
        non-binary frames it completed."""
        frames = []
        data = memoryview(data)
        pos, end = 0, len(data)
        while pos < end:
            if self._left:
                take = min(self._left, end - pos)
                if self._payload is None:
                    self.binary_bytes += take
                else:
                    self._payload += data[pos:pos + take]
                pos += take
                self._left -= take
                if not self._left:
                    self._finish(frames)
                continue
            need = self._head_size()
            take = min(need - len(self._head), end - pos)
            self._head += data[pos:pos + take]
            pos += take
            if len(self._head) == self._head_size():
                self._start(frames)
        return frames

    def _head_size(self):
        if len(self._head) < 2:
            return 2
        n = self._head[1] & 0x7F
        size = 2 + (2 if n == 126 else 8 if n == 127 else 0)
        return size + (4 if self._head[1] & 0x80 else 0)

    def _start(self, frames):
        h = self._head
        self._opcode, n = h[0] & 0x0F, h[1] & 0x7F
        pos = 2
        if n == 126:
            n, pos = struct.unpack_from("!H", h, 2)[0], 4
        elif n == 127:
            n, pos = struct.unpack_from("!Q", h, 2)[0], 10
        self._key = bytes(h[pos:pos + 4]) if h[1] & 0x80 else b""
        self._head = bytearray()
        self._payload = None if self._opcode in (wsproto.OP_BINARY, wsproto.OP_CONT) else bytearray()
        self._left = n
        if not n:
            self._finish(frames)

    def _finish(self, frames):
        if self._payload is not None:
            payload = bytes(self._payload)
            frames.append((self._opcode, wsproto.apply_mask(payload, self._key) if self._key else payload))
        self._payload = None


def read_head(sock, buffer=b""):
    """Reads until a whole HTTP head; returns (HttpHead, bytes after it). Bounded by
    HANDSHAKE_TIMEOUT; raises ConnectionError on EOF or timeout."""
    deadline = time.monotonic() + HANDSHAKE_TIMEOUT
    while True:
        head, rest = wsproto.split_head(buffer)
        if head is not None:
            return head, rest
        if time.monotonic() > deadline or len(buffer) > 65536:
            raise ConnectionError("no HTTP head in time")
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("EOF before the HTTP head")
        buffer += chunk


def serve_bulk(conn):
    """One bulk WebSocket connection, from the upgrade to the close (see the module doc)."""
    stop = threading.Event()

    def flood():
        frame = bulk_frame(mask=False)
        try:
            while not stop.is_set():
                conn.sendall(frame)
        except OSError:
            pass

    try:
        head, rest = read_head(conn)
        key = head.header("sec-websocket-key")
        if not key:
            conn.sendall(wsproto.upgrade_required())
            return
        conn.sendall(wsproto.switching_protocols(key))
        conn.settimeout(IO_TIMEOUT)
        sender = threading.Thread(target=flood, daemon=True)
        sender.start()
        skipper = FrameSkipper()
        first = None
        buf = bytearray(RECV_SIZE)
        pending = [rest] if rest else []
        closed = False
        while not closed:
            if pending:
                data = pending.pop()
            else:
                n = conn.recv_into(buf)
                if not n:
                    break
                data = memoryview(buf)[:n]
            if first is None:
                first = time.monotonic()
            for opcode, _ in skipper.feed(data):
                if opcode == wsproto.OP_CLOSE:
                    closed = True
        seconds = time.monotonic() - (first or time.monotonic())
        stop.set()
        sender.join(IO_TIMEOUT)
        if closed:
            report = f"{skipper.binary_bytes} {seconds:.6f}".encode()
            conn.sendall(wsproto.encode_frame(wsproto.OP_TEXT, report))
            conn.sendall(wsproto.encode_frame(wsproto.OP_CLOSE, wsproto.close_payload(1000)))
    except OSError:
        pass
    finally:
        stop.set()
        conn.close()


def listener():
    """The listening socket on 127.0.0.1 (its port printed for the harness) and a selector
    watching it and stdin, whose end stops the process."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(4096)
    srv.setblocking(False)
    print(srv.getsockname()[1], flush=True)
    sel = selectors.DefaultSelector()
    sel.register(srv, selectors.EVENT_READ)
    sel.register(sys.stdin, selectors.EVENT_READ)
    return srv, sel


def run_ws():
    srv, sel = listener()
    while True:
        for key, _ in sel.select():
            if key.fileobj is sys.stdin:
                if not sys.stdin.readline():
                    return
                continue
            try:
                conn, _ = srv.accept()
            except BlockingIOError:
                continue
            conn.setblocking(True)
            threading.Thread(target=serve_bulk, args=(conn,), daemon=True).start()


def run_hold():
    srv, sel = listener()
    held = 0
    while True:
        for key, _ in sel.select():
            if key.fileobj is sys.stdin:
                if not sys.stdin.readline():
                    return
                print(held, flush=True)
            elif key.fileobj is srv:
                for _ in range(256):  # accept what is queued, a bounded batch at a time
                    try:
                        conn, _ = srv.accept()
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError:  # out of descriptors: the harness sees the count fall short
                        break
                    conn.setblocking(False)
                    # Closed with RST, not FIN: no TIME_WAIT left behind for the next round.
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    sel.register(conn, selectors.EVENT_READ)
                    held += 1
            else:
                conn = key.fileobj
                try:
                    data = conn.recv(4096)
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(conn)
                    conn.close()
                    held -= 1


if __name__ == "__main__":
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    {"ws": run_ws, "hold": run_hold}[sys.argv[1]]()
