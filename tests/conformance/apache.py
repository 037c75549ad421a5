"""Apache httpd 2.4 (mod_proxy + mod_proxy_http, `ProxyPass / http://... upgrade=websocket`)
against dropsim's `apache` profile.

The real one runs in the foreground (`apache2 -DFOREGROUND`, mpm_event) with a minimal
httpd.conf generated into the temporary directory: modules load from Debian's directory by
absolute path, every other path (ServerRoot, pid, logs, mutexes, runtime dir, scoreboard)
is in the temporary directory, and it listens on 127.0.0.1 only. Directive names are
Apache's; dropsim's setting names are the same in snake_case (Timeout -> timeout,
ProxyTimeout -> proxy_timeout, ProxyWebsocketFallbackToProxyHttp ->
proxy_websocket_fallback_to_proxy_http); ProxyPass parameters map through PARAMS.

scenarios.py imports this module at its end and attaches it; import scenarios, not this
module, first (run.py does): this module takes Known and Scenario from it.
"""

import os
import pwd
import re
from dataclasses import dataclass, field

from peers import Script
from proxies import program
from scenarios import Known, Scenario

KEY = "apache"
MODULES = "/usr/lib/apache2/modules"
# mod_unixd, mod_so and http_core are compiled into Debian's apache2 (apache2 -l).
LOAD = ("mpm_event", "authz_core", "proxy", "proxy_http", "proxy_wstunnel")


# ProxyPass parameters that the profile models, and their dropsim settings (upgrade= is
# upgrade_websocket, handled apart).
PARAMS = {"timeout": "proxypass_timeout", "connectiontimeout": "connectiontimeout"}


def snake(name):
    """Apache's CamelCase directive name as dropsim's setting name: ProxyTimeout -> proxy_timeout."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _user_group():
    """As root Apache's children switch to User/Group; otherwise they stay who we are."""
    if os.geteuid() == 0:
        return "nobody", "nogroup"
    entry = pwd.getpwuid(os.geteuid())
    return entry.pw_name, f"#{entry.pw_gid}"


@dataclass
class ApacheSetup:
    """A server with one `ProxyPass / <scheme>://127.0.0.1:PORT/ params...`. directives are
    server-level directives (Timeout, ProxyTimeout, ...); params are ProxyPass parameters.
    scheme "http" with upgrade=websocket is mod_proxy_http's tunnel (2.4.47+); "ws" goes
    through mod_proxy_wstunnel, which hands it to mod_proxy_http unless
    ProxyWebsocketFallbackToProxyHttp is Off."""
    directives: dict = field(default_factory=dict)
    params: dict = field(default_factory=lambda: {"upgrade": "websocket"})
    scheme: str = "http"

    def profile(self):
        return "apache"

    def dropsim_settings(self):
        # Apache writes flags On/Off; dropsim's bools are lower case.
        sets = [f"{snake(k)}={v.lower() if v in ('On', 'Off') else v}" for k, v in self.directives.items()]
        unknown = [k for k in self.params if k != "upgrade" and k not in PARAMS]
        if unknown:
            raise ValueError(f"ProxyPass parameter(s) {', '.join(unknown)} have no dropsim setting")
        sets += [f"{PARAMS[k]}={v}" for k, v in self.params.items() if k != "upgrade"]
        if self.scheme == "http" and "upgrade" not in self.params:
            sets.append("upgrade_websocket=off")
        return sets

    def without_upgrade(self):
        """The same without ProxyPass's upgrade=websocket: the upgrade is not proxied."""
        return ApacheSetup(dict(self.directives), {k: v for k, v in self.params.items() if k != "upgrade"},
                           self.scheme)

    def config(self, tmp, port, upstream):
        user, group = _user_group()
        loads = "".join(f"LoadModule {m}_module {MODULES}/mod_{m}.so\n" for m in LOAD)
        body = "".join(f"{k} {v}\n" for k, v in self.directives.items())
        params = "".join(f" {k}={v}" for k, v in self.params.items())
        return (f"ServerRoot {tmp}\nServerName 127.0.0.1\n{loads}"
                f"User {user}\nGroup {group}\nPidFile {tmp}/httpd.pid\nErrorLog {tmp}/error.log\n"
                f"LogLevel info\nMutex file:{tmp}\nDefaultRuntimeDir {tmp}\n"
                f"ScoreBoardFile {tmp}/scoreboard\nListen 127.0.0.1:{port}\n"
                f"StartServers 1\nServerLimit 1\nThreadsPerChild 25\nMaxRequestWorkers 25\n"
                f"MinSpareThreads 1\nMaxSpareThreads 25\n"
                f"{body}ProxyPass / {self.scheme}://127.0.0.1:{upstream}/{params}\n")

    def argv(self, tmp):
        return [program("apache2"), "-DFOREGROUND", "-f", f"{tmp}/proxy.conf"]


def ws(**directives):
    """mod_proxy_http's WebSocket tunnel (upgrade=websocket) with Timeout T unless overridden."""
    return ApacheSetup({"Timeout": "1", **directives})


# Every existing WebSocket scenario applies, except those that set up something only nginx
# or HAProxy has (their timeout variants, send_timeout floods: slow-reader already covers
# a stalled client, where Apache has no timer of its own). No raw-TCP scenario applies:
# Apache has no TCP proxy (mod_proxy_connect tunnels HTTP CONNECT for a forward proxy).
SETUPS = {name: ws() for name in (
    "idle", "client-data", "server-data", "client-pings", "every-1.5T", "client-half-close",
    "server-half-close", "4MiB-message", "slow-reader", "server-close-1001", "upstream-refused")}

NO_UPGRADE = (
    "Without upgrade=websocket Apache proxies the handshake as an ordinary request: the backend "
    "gets HTTP/1.1 with 'Connection: Keep-Alive' and no Upgrade header, its 426 reaches the "
    "client, and the client connection stays open for KeepAliveTimeout (5 s). dropsim's "
    "strip_upgrade is nginx's: HTTP/1.0 with 'Connection: close' upstream, and a FIN to the "
    "client after the answer. What the client sees (the backend's status, no 101) matches.")

WSTUNNEL_UPGRADE_HEADER = (
    "mod_proxy_wstunnel writes its own 'Upgrade: WebSocket' (the worker's default protocol name) "
    "to the backend instead of the client's 'Upgrade: websocket'; dropsim forwards the client's "
    "header unchanged. Both survive the idle run: this tunnel has no idle timeout.")

KNOWN = {}

# Measured with apache2 2.4.71 (Debian 12): see profiles/apache.yaml.
SCENARIOS = [
    # The tunnel waits max(Timeout, ProxyTimeout): measured 2.01 s and 2.00 s.
    Scenario("apache-proxy-timeout-longer", "Apache: Timeout 1s, ProxyTimeout 2s; nobody sends", True,
             Script(), Script(), 3.0, apache=ws(ProxyTimeout="2")),
    Scenario("apache-proxy-timeout-shorter",
             "Apache: Timeout 2s, ProxyTimeout 1s (no effect on the tunnel: it waits the larger); nobody sends",
             True, Script(), Script(), 3.0, apache=ws(Timeout="2", ProxyTimeout="1")),
    # ProxyPass timeout= sets the backend socket's timeout in place of ProxyTimeout.
    Scenario("apache-proxypass-timeout", "Apache: Timeout 1s, ProxyPass ... timeout=2; nobody sends", True,
             Script(), Script(), 3.0,
             apache=ApacheSetup({"Timeout": "1"}, params={"upgrade": "websocket", "timeout": "2"})),
    # The client's FIN wakes the poll, which then waits T again: the drop is T after the FIN.
    Scenario("apache-half-close-then-idle", "Apache: the client shuts its side at 0.1 T; then nobody sends",
             True, Script(shut_at=0.1), Script(), 2.5, apache=ws()),
    # mod_proxy_wstunnel's own tunnel (mpm_event's async poll) has no idle timeout in 2.4.71.
    Scenario("apache-wstunnel-no-fallback",
             "Apache: ws:// URL with ProxyWebsocketFallbackToProxyHttp Off, Timeout 1s; nobody sends", True,
             Script(), Script(), 2.5,
             apache=ApacheSetup({"Timeout": "1", "ProxyWebsocketFallbackToProxyHttp": "Off"}, params={},
                                scheme="ws"),
             known={KEY: Known(WSTUNNEL_UPGRADE_HEADER)}),
    Scenario("apache-no-upgrade", "Apache: ProxyPass without upgrade=websocket", True, Script(), Script(), 1.0,
             apache=ws().without_upgrade(), known={KEY: Known(NO_UPGRADE)}),
]
