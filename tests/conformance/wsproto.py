"""The bits of RFC 6455 the conformance peers need: the handshake and frames.

Plain functions over bytes, no sockets: the peers (peers.py) feed what they read into a
FrameReader and send what encode_frame returns.
"""

import base64
import hashlib
import os
import struct

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

# A zero masking key is a valid frame (RFC 6455 5.3 asks for a random one, to defeat cache
# poisoning, not for the syntax): the peers use it for multi-MiB messages, so that neither
# spends tens of milliseconds of Python per copy and the timing under test is the proxy's.
ZERO_KEY = b"\0\0\0\0"

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def accept_key(key):
    """Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 section 4.2.2)."""
    digest = hashlib.sha1(key.encode("ascii") + GUID).digest()
    return base64.b64encode(digest).decode("ascii")


def upgrade_request(host, path="/chat", key=None):
    """A client's opening handshake; returns (request bytes, the key it carries)."""
    key = key or base64.b64encode(os.urandom(16)).decode("ascii")
    request = (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               f"Sec-WebSocket-Version: 13\r\n\r\n").encode("ascii")
    return request, key


def switching_protocols(key):
    """The server's 101 answer to a request that carried `key`."""
    return (f"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {accept_key(key)}\r\n\r\n").encode("ascii")


def upgrade_required():
    """What a WebSocket-only server answers to a request without an upgrade."""
    return (b"HTTP/1.1 426 Upgrade Required\r\nUpgrade: websocket\r\nContent-Length: 0\r\n"
            b"Connection: close\r\n\r\n")


class HttpHead:
    """A parsed request or response head: the start line and lower-cased headers."""

    def __init__(self, raw):
        lines = raw.decode("latin-1").split("\r\n")
        self.start_line = lines[0]
        self.headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                self.headers[name.strip().lower()] = value.strip()

    def header(self, name):
        """The value of header `name` (any case), or ''."""
        return self.headers.get(name.lower(), "")

    def status(self):
        """A response's status code (0 when the start line is not a status line)."""
        parts = self.start_line.split(" ")
        return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0

    def version(self):
        """A request's HTTP version: 'HTTP/1.1', 'HTTP/1.0'."""
        return self.start_line.rsplit(" ", 1)[-1]


def split_head(buffer):
    """(head, rest) once `buffer` holds a whole HTTP head, else (None, buffer)."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None, buffer
    return HttpHead(buffer[:end]), buffer[end + 4:]


def encode_frame(opcode, payload=b"", mask=False, key=None):
    """One final frame; a client masks (RFC 6455 5.3), a server does not. `key`: the
    masking key (default random)."""
    return b"".join(frame_parts(opcode, payload, mask, key))


def frame_parts(opcode, payload=b"", mask=False, key=None):
    """encode_frame's bytes as [head, body], the body being `payload` itself when nothing
    changes it (no mask, or a zero key): a peer queues the parts, and a multi-MiB message
    costs no copy. Touching 96 MiB of fresh memory took 1.2 s on a loaded machine, which
    made the slow-reader scenario's backend send at 1.7 T instead of 0.5 T."""
    mask_bit = 0x80 if mask else 0
    n = len(payload)
    head = bytes([0x80 | opcode])
    if n < 126:
        head += bytes([mask_bit | n])
    elif n < 1 << 16:
        head += bytes([mask_bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", n)
    if not mask:
        return [head, payload]
    key = key or os.urandom(4)
    return [head + key, apply_mask(payload, key)]


def apply_mask(payload, key):
    """XOR with the 4-byte masking key (some 30 ms for 4 MiB; nothing for a zero key)."""
    if not payload or key == ZERO_KEY:
        return bytes(payload)
    n = len(payload)
    repeated = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(repeated, "little")).to_bytes(n, "little")


def close_payload(code, reason=b""):
    """A close frame's body: the code, then the reason."""
    return struct.pack("!H", code) + reason


# A payload this large whose bytes are all zero (every multi-MiB message the peers send) is
# counted as it arrives instead of buffered: gathering 96 MiB in a bytearray and slicing it
# out touched ~300 MiB of fresh memory, seconds on a loaded machine, and the client's
# Python, not the proxy, then decided when the slow-reader scenario's transfer ended.
STREAM_AT = 1 << 20


class FrameReader:
    """Turns a byte stream into (opcode, payload) frames; unmasks as needed. A payload of
    STREAM_AT bytes or more with no mask or a zero key is checked to be zeros as it
    arrives and returned as bytes(n); any other byte in it raises ValueError."""

    def __init__(self):
        self._buffer = bytearray()
        self._streaming = None  # (opcode, length, bytes still to come) of a big frame

    def feed(self, data):
        """Adds bytes; returns the frames they completed."""
        frames = []
        data = memoryview(data)
        while data:
            if self._streaming:
                data = self._stream(data, frames)
                continue
            self._buffer += data
            data = memoryview(b"")
            while not self._streaming:
                frame = self._next()
                if frame is None:
                    break
                frames.append(frame)
            if self._streaming and self._buffer:  # what followed the big frame's head
                data, self._buffer = memoryview(bytes(self._buffer)), bytearray()
        return frames

    def _stream(self, data, frames):
        """Consumes a big frame's bytes from `data`; returns what is left of `data`."""
        opcode, n, left = self._streaming
        take = data[:left]
        if take.tobytes().count(0) != len(take):
            raise ValueError("a big WebSocket payload that is not all zeros: the proxy changed it")
        left -= len(take)
        self._streaming = (opcode, n, left) if left else None
        if not left:
            frames.append((opcode, bytes(n)))
        return data[len(take):]

    def _next(self):
        b = self._buffer
        if len(b) < 2:
            return None
        opcode, masked, n = b[0] & 0x0F, b[1] & 0x80, b[1] & 0x7F
        pos = 2
        if n == 126:
            if len(b) < 4:
                return None
            n, pos = struct.unpack_from("!H", b, 2)[0], 4
        elif n == 127:
            if len(b) < 10:
                return None
            n, pos = struct.unpack_from("!Q", b, 2)[0], 10
        key = b""
        if masked:
            if len(b) < pos + 4:
                return None
            key, pos = bytes(b[pos:pos + 4]), pos + 4
        if n >= STREAM_AT and key in (b"", ZERO_KEY):
            del b[:pos]
            self._streaming = (opcode, n, n)
            return None
        if len(b) < pos + n:
            return None
        payload = bytes(b[pos:pos + n])
        del b[:pos + n]
        return opcode, apply_mask(payload, key) if masked else payload
