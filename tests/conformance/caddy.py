"""Caddy 2.6.2 (Debian 12) in the fidelity suite: its set-up, the existing scenarios it
joins, and its own (a config reload with a WebSocket open).

Caddy runs in the foreground (`caddy run --config proxy.conf`, JSON) with everything in
the temporary directory: HOME, XDG_DATA_HOME and XDG_CONFIG_HOME point there (its storage,
certificates and autosave), config persistence is off, HTTPS is off, the site and the
admin endpoint listen on 127.0.0.1 only.

What 2.6.2 does to a WebSocket (measured, see profiles/caddy.yaml): no stream timeout at
all; the transport's read_timeout is an idle timer that only backend->client bytes reset,
so every timer scenario here sets it to T (`read_timeout 1s`, the only timer that applies);
a refused backend gets 502 at once; a FIN from either side closes both; a config reload
closes every WebSocket with close 1001 to both sides and a FIN.
"""

import json
import os
import urllib.request
from dataclasses import dataclass, field

from peers import Script
from proxies import free_port, program
from scenarios import Scenario

KEY = "caddy"

RELOAD_AT = 0.5  # seconds after the upgrade (0.5 T)


@dataclass
class CaddySetup:
    """A Caddy server with one reverse_proxy route. `transport`: the http transport's
    settings as Caddy's JSON names them (read_timeout, write_timeout, dial_timeout); they
    are also dropsim's setting names."""
    transport: dict = field(default_factory=dict)

    def profile(self):
        return "caddy"

    def settings(self):
        return {"dial_timeout": "1s", **self.transport}

    def dropsim_settings(self):
        return [f"{k}={v}" for k, v in self.settings().items()]

    def document(self, port, upstream, admin, generation=0):
        """The JSON config; `generation` > 0 adds a route that changes nothing for the
        WebSocket but makes the config differ, so that a reload really swaps it (Caddy
        skips a /load whose config is unchanged)."""
        routes = [{"handle": [{"handler": "reverse_proxy",
                               "upstreams": [{"dial": f"127.0.0.1:{upstream}"}],
                               "transport": {"protocol": "http", **self.settings()}}]}]
        if generation:
            routes.insert(0, {"match": [{"path": [f"/generation-{generation}"]}],
                              "handle": [{"handler": "static_response", "status_code": 204}]})
        return {"admin": {"listen": f"127.0.0.1:{admin}", "config": {"persist": False}},
                "apps": {"http": {"servers": {"srv0": {
                    "listen": [f"127.0.0.1:{port}"], "routes": routes,
                    "automatic_https": {"disable": True}}}}}}

    def config(self, tmp, port, upstream):
        return json.dumps(self.document(port, upstream, free_port()), indent=1)

    def argv(self, tmp):
        return [program("caddy"), "run", "--config", f"{tmp}/proxy.conf"]

    def env(self, tmp):
        """Caddy's storage, config and home inside the temporary directory."""
        return {**os.environ, "HOME": tmp, "XDG_DATA_HOME": f"{tmp}/data", "XDG_CONFIG_HOME": f"{tmp}/config"}


def reload_caddy(setup, tmp, proxy):
    """What `caddy reload` does, without the seconds a CLI start may take on a loaded
    machine: POST the adapted config, changed, to the admin endpoint's /load. It answers
    once the new config runs and the old one is cleaned up (measured: 3-13 ms)."""
    with open(f"{tmp}/proxy.conf") as f:
        current = json.load(f)
    admin = current["admin"]["listen"]
    upstream = int(current["apps"]["http"]["servers"]["srv0"]["routes"][0]["handle"][0]
                   ["upstreams"][0]["dial"].rsplit(":", 1)[1])
    changed = setup.document(proxy.port, upstream, int(admin.rsplit(":", 1)[1]), generation=1)
    request = urllib.request.Request(f"http://{admin}/load", data=json.dumps(changed).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=5) as answer:
        if answer.status != 200:
            raise RuntimeError(f"POST /load answered {answer.status}")


def reload_dropsim(proxy):
    """dropsim's equivalent: the `reload` action on every session, through its API."""
    request = urllib.request.Request(f"http://127.0.0.1:{proxy.api_port}/dropsim/sessions",
                                     data=b'{"action": "reload"}', method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as answer:
        if json.load(answer).get("sessions") != 1:
            raise RuntimeError("the reload reached no session")


# T: the transport's read_timeout, the one timer of 2.6.2 that applies to a WebSocket.
READ_T = CaddySetup({"read_timeout": "1s"})

SETUPS = {name: READ_T for name in (
    "idle", "client-data", "server-data", "client-pings", "every-1.5T", "client-half-close",
    "server-half-close", "4MiB-message", "slow-reader", "server-close-1001", "upstream-refused")}

KNOWN = {}

# Measured (tcpdump on loopback, caddy 2.6.2-5): on POST /load, 3-13 ms after it, Caddy
# cleans up the old reverse_proxy handler and, for each of the WebSocket's two
# connections in Go's random map order, writes an UNMASKED close frame 88 02 03 e9 (1001,
# no reason) and close()s it: the client and the backend each get close 1001 and a FIN,
# the two within 0.3-0.7 ms. The copy goroutines still run meanwhile: a peer that answers the
# close at once may get its answer forwarded to the other side, in the middle of Caddy's
# own frame (measured: the backend parsed close 50240 from the client's half-forwarded
# masked reply followed by Caddy's 4 bytes), and the answer itself meets an RST (the
# socket is closed). That race has no stable outcome, so here neither peer answers the
# close: each sees close 1001, then EOF.
RELOAD_PEER = Script(answer_close=False)

SCENARIOS = [
    Scenario("caddy-reload",
             "Caddy: a config reload (POST /load, a changed config) at 0.5 T with the WebSocket open; "
             "dropsim: the reload action through its API", True, RELOAD_PEER, RELOAD_PEER, 2.0,
             caddy=CaddySetup(), action=(RELOAD_AT, reload_caddy, reload_dropsim)),
    # The transport's write_timeout is a deadline on each write to the backend: once the
    # kernel buffers toward a backend that stopped reading are full, Caddy's write blocks,
    # and 1 s later the stream ends. Measured: the flooding client gets RST (its unread
    # bytes) at 1.08-1.09 s; dropsim's blocked_write timer toward the upstream: 1.08-1.10 s.
    Scenario("caddy-write-timeout",
             "Caddy transport write_timeout 1s: the client floods, the backend stops reading until 3 T",
             True, Script(flood=True), Script(read_from=3.0), 4.0,
             caddy=CaddySetup({"write_timeout": "1s"}), heavy=True),
]
