// Toxiproxy's Node client (npm toxiproxy-node-client, pinned in package-lock.json), a
// client nobody here wrote, driving dropsim's control API unchanged: create a proxy, add
// latency and observe it, add reset_peer and observe the RST on a connection that was open
// before, remove the toxic, reset. Then every listen form Toxiproxy's users write (host
// names, port 0, IPv6, every interface), each carrying bytes at the address it answered,
// and a proxy named "host:port" as older Testcontainers names them.
//
// Usage: node toxiproxy_client_test.mjs SERVER_COMMAND [ARGS...]
// The command must start a dropsim control API on a free port and log
// "control API listening on 127.0.0.1:PORT" (dropsim's own line); this script starts it,
// runs its own echo server as the upstream, and stops both. Ends with "N passed, N failed".

import { spawn } from "node:child_process";
import net from "node:net";
import { Toxiproxy } from "toxiproxy-node-client";

const kTimeoutMs = 5000;
let passed = 0;
let failed = 0;

function check(name, ok, detail = "") {
  if (ok) {
    passed++;
    console.log(`ok   ${name}`);
  } else {
    failed++;
    console.log(`FAIL ${name}${detail ? ": " + detail : ""}`);
  }
}

function withTimeout(promise, what, ms = kTimeoutMs) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Starts the API server; resolves with { child, port } once it logs its address. */
function startServer(argv) {
  const child = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
  let seen = "";
  const found = new Promise((resolve, reject) => {
    const onData = (chunk) => {
      seen += chunk.toString();
      const m = seen.match(/control API listening on 127\.0\.0\.1:(\d+)/);
      if (m) resolve({ child, port: Number(m[1]) });
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("exit", (code) => reject(new Error(`server exited (${code}) before listening:\n${seen}`)));
    child.on("error", reject);
  });
  return withTimeout(found, "server start", 10000);
}

/** An echo server on 127.0.0.1; resolves with it once listening. */
function startEcho() {
  const server = net.createServer((s) => {
    s.on("error", () => {});
    s.pipe(s);
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

/** A connected socket to host:port (127.0.0.1 by default). */
function connect(port, host = "127.0.0.1") {
  return withTimeout(
    new Promise((resolve, reject) => {
      const s = net.connect(port, host, () => resolve(s));
      s.once("error", reject);
    }),
    `connect to ${port}`,
  );
}

/** Sends `text` on `socket` and resolves with the round trip in ms once it came back. */
function roundTrip(socket, text) {
  return withTimeout(
    new Promise((resolve, reject) => {
      const start = process.hrtime.bigint();
      let got = "";
      const onData = (d) => {
        got += d.toString();
        if (got.length >= text.length) {
          socket.off("data", onData);
          resolve(Number(process.hrtime.bigint() - start) / 1e6);
        }
      };
      socket.on("data", onData);
      socket.once("error", reject);
      socket.write(text);
    }),
    "echo round trip",
  );
}

/** Resolves with how `socket` ended: "reset" (ECONNRESET), "eof" or "error CODE". */
function ending(socket) {
  return withTimeout(
    new Promise((resolve) => {
      socket.on("error", (e) => resolve(e.code === "ECONNRESET" ? "reset" : `error ${e.code}`));
      socket.on("end", () => resolve("eof"));
      socket.resume();
    }),
    "connection end",
  );
}

/** True when `call()` rejects with the client's error for a 404. */
async function notFound(call) {
  try {
    await call();
  } catch (e) {
    return /404/.test(e.message);
  }
  return false;
}

function portOf(listen) {
  return Number(listen.slice(listen.lastIndexOf(":") + 1));
}

/** A port the kernel just said was free on every interface (listened on, released). */
function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** True when this machine can listen on ::1 (some containers have no IPv6). */
function hasIPv6Loopback() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once("error", () => resolve(false));
    s.listen(0, "::1", () => s.close(() => resolve(true)));
  });
}

async function addressForms(toxiproxy, echoPort) {
  const ipv6 = await hasIPv6Loopback();
  if (!ipv6) console.log("note: no IPv6 loopback here: [::1] skipped, every-interface listens answer 0.0.0.0");
  const every = ipv6 ? "[::]" : "0.0.0.0";  // Go listens dual-stack on [::] for ":P" and "0.0.0.0:P"
  const [fixedName, fixedEvery, fixedZeros] = [await freePort(), await freePort(), await freePort()];
  const forms = [
    { listen: "localhost:0", upstream: `localhost:${echoPort}`, answered: /^127\.0\.0\.1:[1-9]\d*$/ },
    { listen: `localhost:${fixedName}`, answered: `127.0.0.1:${fixedName}` },
    { listen: "127.0.0.1:0", answered: /^127\.0\.0\.1:[1-9]\d*$/ },
    { listen: `:${fixedEvery}`, answered: `${every}:${fixedEvery}` },
    { listen: `0.0.0.0:${fixedZeros}`, answered: `${every}:${fixedZeros}` },
  ];
  if (ipv6) forms.push({ listen: "[::1]:0", answered: /^\[::1\]:[1-9]\d*$/, host: "::1" });
  for (const [i, form] of forms.entries()) {
    const what = `listen ${form.listen}`;
    try {
      const proxy = await toxiproxy.createProxy({
        name: `form_${i}`,
        listen: form.listen,
        upstream: form.upstream ?? `127.0.0.1:${echoPort}`,
      });
      const answered =
        typeof form.answered === "string" ? proxy.listen === form.answered : form.answered.test(proxy.listen);
      check(`${what}: answered with the bound address`, answered, proxy.listen);
      const socket = await connect(portOf(proxy.listen), form.host ?? "127.0.0.1");
      const ms = await roundTrip(socket, `via ${form.listen}`);
      check(`${what}: bytes flow at the answered address`, ms < 2000, `${ms.toFixed(1)} ms`);
      socket.destroy();
      await proxy.remove();
    } catch (e) {
      check(`${what}: created and carried bytes`, false, e.message);
    }
  }

  // Older Testcontainers modules name proxies "host:port".
  const named = await toxiproxy.createProxy({ name: "redis:6379", listen: "localhost:0", upstream: `localhost:${echoPort}` });
  const got = await toxiproxy.get("redis:6379");
  check("a proxy named host:port is read back by name", got.name === "redis:6379" && got.listen === named.listen,
        got.listen);
  await got.addToxic({ name: "lag", type: "latency", stream: "downstream", toxicity: 1, attributes: { latency: 100 } });
  const socket = await connect(portOf(got.listen));
  const slow = await roundTrip(socket, "colon");
  check("its toxic acts on its connections", slow >= 95, `${slow.toFixed(1)} ms`);
  socket.destroy();
  check("its toxic is read back through its name", (await got.getToxic("lag")).attributes.latency === 100);
  const moved = await got.update({ ...got.toJson(), listen: "localhost:0" });
  check("update moves it to a host-name listen, answered as an address",
        /^127\.0\.0\.1:[1-9]\d*$/.test(moved.listen) && moved.listen !== got.listen, moved.listen);
  await moved.remove();
  check("it is removed by name", await notFound(() => toxiproxy.get("redis:6379")));

  const populated = await toxiproxy.populate([
    { name: "pop_name", listen: "localhost:0", upstream: `localhost:${echoPort}` },
    { name: "pop_every", listen: ":0", upstream: `127.0.0.1:${echoPort}` },
  ]);
  // The client answers an object keyed by name.
  const listens = [populated.pop_name?.listen ?? "", populated.pop_every?.listen ?? ""];
  check("populate takes host names and every interface", /^127\.0\.0\.1:\d+$/.test(listens[0]) &&
        listens[1].startsWith(`${every}:`), listens.join(", "));
  for (const p of Object.values(populated)) {
    const s = await connect(portOf(p.listen));
    check(`populated ${p.name} carries bytes`, (await roundTrip(s, p.name)) < 2000);
    s.destroy();
    await p.remove();
  }
}

async function scenario(api, echoPort) {
  const toxiproxy = new Toxiproxy(`http://127.0.0.1:${api}`);

  const version = JSON.parse(await toxiproxy.getVersion());
  check("GET /version reports a Toxiproxy 2.x version", /^2\.\d+\.\d+/.test(version.version), version.version);

  const proxy = await toxiproxy.createProxy({
    name: "node_echo",
    listen: "127.0.0.1:0",
    upstream: `127.0.0.1:${echoPort}`,
  });
  check("createProxy answers the proxy with its bound address", proxy.name === "node_echo" && portOf(proxy.listen) > 0,
        proxy.listen);
  const port = portOf(proxy.listen);

  const all = await toxiproxy.getAll();
  check("getAll lists it by name", Object.keys(all).includes("node_echo"), Object.keys(all).join(","));

  const socket = await connect(port);
  const plain = await roundTrip(socket, "ping");
  check("bytes flow through the proxy", plain < 200, `${plain.toFixed(1)} ms`);

  const latency = await proxy.addToxic({
    name: "lag",
    type: "latency",
    stream: "downstream",
    toxicity: 1,
    attributes: { latency: 300, jitter: 0 },
  });
  check("addToxic answers the toxic", latency.name === "lag" && latency.attributes.latency === 300,
        JSON.stringify(latency.toJson()));
  const slow = await roundTrip(socket, "pong");
  check("latency 300 ms is observed", slow >= 290 && slow < 3000, `${slow.toFixed(1)} ms`);

  const fetched = await proxy.getToxic("lag");
  check("getToxic reads it back", fetched.type === "latency" && fetched.stream === "downstream",
        JSON.stringify(fetched.toJson()));
  const updated = await fetched.update({ ...fetched.toJson(), attributes: { latency: 50, jitter: 0 } });
  check("Toxic.update changes an attribute", updated.attributes.latency === 50, JSON.stringify(updated.toJson()));

  await fetched.remove();
  const fast = await roundTrip(socket, "ping");
  check("removing the toxic removes the latency", fast < 200, `${fast.toFixed(1)} ms`);
  check("a removed toxic is not found (404)", await notFound(() => proxy.getToxic("lag")));

  // reset_peer on a connection that was open before the toxic was added.
  const end = ending(socket);
  await proxy.addToxic({ name: "rst", type: "reset_peer", stream: "downstream", toxicity: 1, attributes: { timeout: 0 } });
  const how = await end.catch((e) => e.message);
  check("reset_peer resets an open connection (ECONNRESET)", how === "reset", how);

  const disabled = await proxy.update({ ...proxy.toJson(), enabled: false });
  check("update disables the proxy", disabled.enabled === false);

  await toxiproxy.reset();
  const after = await toxiproxy.get("node_echo");
  const noToxic = await notFound(() => after.getToxic("rst"));
  check("reset enables the proxy and removes its toxics", after.enabled === true && noToxic);
  const again = await connect(portOf(after.listen));
  check("the proxy carries bytes after reset", (await roundTrip(again, "x")) < 200);
  again.destroy();

  await after.remove();
  check("a removed proxy is not found (404)", await notFound(() => toxiproxy.get("node_echo")));

  await addressForms(toxiproxy, echoPort);
}

async function main() {
  const argv = process.argv.slice(2);
  if (argv.length === 0) {
    console.error("usage: node toxiproxy_client_test.mjs SERVER_COMMAND [ARGS...]");
    process.exit(2);
  }
  const echo = await startEcho();
  let server;
  try {
    server = await startServer(argv);
    await withTimeout(scenario(server.port, echo.address().port), "scenario", 30000);
  } catch (e) {
    check("scenario ran to the end", false, e.stack || String(e));
  } finally {
    if (server) server.child.kill("SIGTERM");
    echo.close();
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 && passed > 0 ? 0 : 1);
}

main();
