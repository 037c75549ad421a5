#!/usr/bin/python3
"""dropsim at its descriptor limit: N clients through a `tcp` proxy under `ulimit -n L`.

Starts `dropsim run` with its soft and hard RLIMIT_NOFILE set to L (as `ulimit -n L` does),
an echo server, and N clients that each send one line and wait for its echo. Prints how
many were served at once (the session cap), how the control API answered meanwhile
(GET /version every 50 ms), that the waiting clients are served as others leave, and the
descriptors dropsim holds before and after. Loopback only; every wait is bounded.

    /usr/bin/python3 bench/capacity.py --dropsim build/dropsim --limit 256 --clients 1000
"""

import argparse
import asyncio
import os
import re
import resource
import statistics
import sys
import time
import urllib.request


async def echo_server():
    async def handle(reader, writer):
        try:
            while data := await reader.read(4096):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        writer.close()
    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=4096)
    return server, server.sockets[0].getsockname()[1]


async def start_dropsim(binary, limit, upstream):
    def cap():
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
    proc = await asyncio.create_subprocess_exec(
        binary, "run", "--profile", "tcp", "--listen", "127.0.0.1:0", "--upstream", f"127.0.0.1:{upstream}",
        "--api", "127.0.0.1:0", stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, preexec_fn=cap)
    lines, port, api, sessions = [], None, None, None
    deadline = time.monotonic() + 10
    while (port is None or api is None) and time.monotonic() < deadline:
        raw = await asyncio.wait_for(proc.stderr.readline(), 10)
        if not raw:
            break
        line = raw.decode(errors="replace")
        lines.append(line)
        if m := re.search(r"up to (\d+) sessions", line):
            sessions = int(m.group(1))
        if m := re.search(r"listening on 127\.0\.0\.1:(\d+), upstream", line):
            port = int(m.group(1))
        if m := re.search(r"control API listening on 127\.0\.0\.1:(\d+)", line):
            api = int(m.group(1))
    if port is None or api is None:
        sys.exit("dropsim did not start:\n" + "".join(lines))

    async def drain():  # keep reading, so that the log never has to drop lines
        while raw := await proc.stderr.readline():
            lines.append(raw.decode(errors="replace"))
    proc.log_lines = lines
    proc.log_reader = asyncio.ensure_future(drain())
    return proc, port, api, sessions


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


class Client:
    def __init__(self):
        self.served = False
        self.writer = None

    async def run(self, port, timeout):
        try:
            reader, self.writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
            self.writer.write(b"ping\n")
            await self.writer.drain()
            self.served = await asyncio.wait_for(reader.readexactly(5), timeout) == b"ping\n"
        except (asyncio.TimeoutError, ConnectionError, asyncio.IncompleteReadError):
            pass

    def close(self):
        if self.writer:
            self.writer.close()


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dropsim", default="build/dropsim")
    ap.add_argument("--limit", type=int, default=256)
    ap.add_argument("--clients", type=int, default=1000)
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # this process holds 2 per client

    server, upstream = await echo_server()
    proc, port, api, cap = await start_dropsim(args.dropsim, args.limit, upstream)
    await asyncio.sleep(0.2)
    idle_fds = fds(proc.pid)

    latencies, stop = [], asyncio.Event()

    async def poll_api():
        def get():
            t = time.monotonic()
            with urllib.request.urlopen(f"http://127.0.0.1:{api}/version", timeout=3) as r:
                r.read()
            return time.monotonic() - t
        while not stop.is_set():
            try:
                latencies.append(await asyncio.to_thread(get))
            except OSError:
                latencies.append(float("inf"))
            await asyncio.sleep(0.05)

    poller = asyncio.ensure_future(poll_api())
    clients = [Client() for _ in range(args.clients)]
    tasks = [asyncio.ensure_future(c.run(port, 60)) for c in clients]
    # The first `cap` are served at once; the rest wait in the listen backlog.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        await asyncio.sleep(0.25)
        served = sum(c.served for c in clients)
        if served >= (cap or 0) and served == sum(c.served for c in clients):
            await asyncio.sleep(0.5)
            if sum(c.served for c in clients) == served:
                break
    at_once = sum(c.served for c in clients)
    at_cap_fds = fds(proc.pid)
    # Leaving: the served close in batches and the waiting ones take their places.
    started = time.monotonic()
    while sum(c.served for c in clients) < args.clients and time.monotonic() - started < 60:
        for c in clients:
            if c.served and c.writer and not c.writer.is_closing():
                c.close()
        await asyncio.sleep(0.2)
    all_served = sum(c.served for c in clients)
    took = time.monotonic() - started
    for c in clients:
        c.close()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.sleep(1.0)
    after_fds = fds(proc.pid)
    stop.set()
    await poller
    alive = proc.returncode is None
    proc.terminate()
    await asyncio.wait_for(proc.wait(), 10)
    await asyncio.wait_for(proc.log_reader, 10)
    err = "".join(proc.log_lines)
    server.close()

    ok = [x for x in latencies if x != float("inf")]
    print(f"ulimit -n {args.limit}, {args.clients} clients through a tcp proxy")
    print(f"  session cap logged:            {cap}")
    print(f"  served at once:                {at_once}")
    print(f"  served in the end:             {all_served} of {args.clients} ({took:.1f}s as others left)")
    print(f"  API GET /version:              {len(latencies)} calls, {len(latencies) - len(ok)} failed, "
          f"p50 {statistics.median(ok) * 1000:.1f} ms, max {max(ok) * 1000:.1f} ms" if ok else "  API: no answer")
    print(f"  dropsim descriptors:           {idle_fds} idle, {at_cap_fds} at the cap, {after_fds} after")
    print(f"  dropsim alive throughout:      {alive}")
    warnings = [l for l in err.splitlines() if "accept failed" in l]
    print(f"  'accept failed' lines:         {len(warnings)}")
    print(f"  log lines:                     {len(err.splitlines())}")


if __name__ == "__main__":
    asyncio.run(main())
