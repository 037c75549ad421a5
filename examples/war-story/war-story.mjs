// Plays the seed guide's war story through dropsim at a time scale, for a training room:
// a chat app (Node `ws`) behind an AWS ALB and nginx that drops every 60 seconds.
//
//   node war-story.mjs --dropsim build/dropsim [--time-scale 0.05] [--results FILE]
//
// Four acts, each with its own chat server and its own `dropsim run --config` built from
// dropsim.yaml (alb -> nginx -> server, free ports on 127.0.0.1):
//   1. no heartbeat: the client is dropped at 60 s and its close event says 1006;
//   2. the fix, a client ping every 25 s: it survives 150 s;
//   3. server pings every 25 s, no client pings, first through `alb-client-activity-only`
//      (the ALB as the guide's author believed it works: dropped at 60 s anyway), then
//      through `alb` (AWS's documented ALB: traffic either way counts, it survives).
// Times are printed on both clocks: story seconds, and the real seconds they took.
// --results writes what happened as JSON (the test reads it). Exit 1 when an act did not
// play out as the story says.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startChatServer } from './server.mjs';
import { connectChatClient } from './client.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values: opts } = parseArgs({
  options: {
    dropsim: { type: 'string' },
    'time-scale': { type: 'string', default: '0.05' },
    results: { type: 'string' },
    work: { type: 'string' },
    verbose: { type: 'boolean', default: false },
  },
});
if (!opts.dropsim) {
  console.error('usage: node war-story.mjs --dropsim PATH [--time-scale 0.05] [--results FILE] [--verbose]');
  process.exit(2);
}
const scale = Number(opts['time-scale']);
if (!(scale > 0)) {
  console.error(`--time-scale must be a positive number, not '${opts['time-scale']}'`);
  process.exit(2);
}
const work = opts.work ?? mkdtempSync(path.join(tmpdir(), 'dropsim-war-story-'));
const template = readFileSync(path.join(here, 'dropsim.yaml'), 'utf8');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
/** A promise that settles as `p` does, or resolves to `fallback` after `ms`. */
const within = (p, ms, fallback) => Promise.race([p, sleep(ms).then(() => fallback)]);
/** Story seconds as real milliseconds. */
const real = (storySeconds) => storySeconds * scale * 1000;

/**
 * The story's two clocks. They start at start(who, text) (the act's 101), which says its
 * line at 0.0; lines said before it are held, then printed with negative times.
 */
class Clock {
  constructor() {
    this.origin = null;
    this.held = [];
  }
  start(who, text) {
    this.origin = process.hrtime.bigint();
    this.held.push([this.origin, who, text]);
    for (const [at, who, text] of this.held) this.print(Number(at - this.origin) / 1e9, who, text);
    this.held = [];
  }
  realSeconds() {
    return this.origin === null ? 0 : Number(process.hrtime.bigint() - this.origin) / 1e9;
  }
  storySeconds() {
    return this.realSeconds() / scale;
  }
  say(who, text) {
    if (this.origin === null) this.held.push([process.hrtime.bigint(), who, text]);
    else this.print(this.realSeconds(), who, text);
  }
  print(realSeconds, who, text) {
    const stamp = `[${(realSeconds / scale).toFixed(1).padStart(6)}s | real ${realSeconds.toFixed(2).padStart(5)}s]`;
    console.log(`  ${stamp}  ${who.padEnd(13)} ${text}`);
  }
}

// A dropsim left running would hold its ports: stop it whatever ends this process.
const children = new Set();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => process.exit(1));
}

/** A port no one listens on now (the kernel's pick, released at once). */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * Starts `dropsim run --config` for one act: alb (port 0) -> nginx (a free port) -> the
 * chat server. Resolves to {albPort, lines, onLine, stop()} once both proxies listen.
 * A port taken between the pick and the bind (parallel tests) is retried with another.
 */
async function startDropsim(act, serverPort) {
  for (let attempt = 1; ; ++attempt) {
    const nginxPort = await freePort();
    let config = template;
    for (const [from, to] of [
      ['127.0.0.1:8080', '127.0.0.1:0'],
      ['127.0.0.1:8081', `127.0.0.1:${nginxPort}`],
      ['127.0.0.1:3000', `127.0.0.1:${serverPort}`],
      ['profile: alb ', `profile: ${act.albProfile} `],
    ]) {
      if (!config.includes(from)) throw new Error(`dropsim.yaml no longer contains '${from}'`);
      config = config.replaceAll(from, to);
    }
    const file = path.join(work, `act${act.number}.yaml`);
    writeFileSync(file, config);
    const child = spawn(opts.dropsim, ['run', '--config', file, '--time-scale', String(scale), '--no-api'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    const d = { child, lines: [], listeners: [], albPort: 0, exited: false };
    const exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => resolve({ code, signal }));
      child.on('error', (e) => {
        d.lines.push(`cannot run ${opts.dropsim}: ${e.message}`);
        resolve({ code: null, signal: null });
      });
    });
    exited.then(() => {
      d.exited = true;
      children.delete(child);
    });
    let pending = '';
    const feed = (chunk) => {
      pending += chunk;
      let nl;
      while ((nl = pending.indexOf('\n')) >= 0) {
        // "2026-11-21 22:26:04.910 info  [C1] closed by ..." -> "[C1] closed by ..."
        const line = pending.slice(0, nl).replace(/^\S+ \S+ \w+\s+/, '');
        pending = pending.slice(nl + 1);
        d.lines.push(line);
        for (const f of d.listeners) f(line);
      }
    };
    child.stdout.setEncoding('utf8').on('data', feed);
    child.stderr.setEncoding('utf8').on('data', feed);
    const ready = new Promise((resolve) => {
      let nginx = false;
      d.listeners.push((line) => {
        const m = line.match(/^alb: listening on 127\.0\.0\.1:(\d+)/);
        if (m) d.albPort = Number(m[1]);
        if (/^nginx: listening on/.test(line)) nginx = true;
        if (d.albPort && nginx) resolve(true);
      });
    });
    const ok = await within(Promise.race([ready, exited.then(() => false)]), 5000, false);
    d.stop = async () => {
      if (!d.exited) child.kill('SIGTERM');
      if (!(await within(exited.then(() => true), 3000, false))) child.kill('SIGKILL');
      await exited;
    };
    if (ok) return d;
    await d.stop();
    const log = d.lines.join('\n');
    if (attempt < 3 && /in use/i.test(log)) continue;
    throw new Error(`dropsim did not start (${file}):\n${log}`);
  }
}

/** Plays one act; resolves to what happened. */
async function playAct(act) {
  console.log(`\nAct ${act.number}: ${act.title}`);
  console.log(`  ${act.setup}`);
  const result = {
    number: act.number,
    key: act.key,
    alb_profile: act.albProfile,
    client_ping_s: act.clientPing,
    server_ping_s: act.serverPing,
    run_for_s: act.runFor,
    expect: act.expect,
    opened: false,
    dropped: false,
    close_code: null,
    close_reason: null,
    closed_at_story_s: null,
    closed_at_real_s: null,
    server_close_code: null,
    client_pings: 0,
    client_pongs: 0,
    server_pings: 0,
    server_pongs: 0,
    dropsim_log: [],
  };
  const clock = new Clock();
  const server = await startChatServer({
    pingSeconds: act.serverPing,
    timeScale: scale,
    onEvent: (kind, d) => {
      if (kind === 'ping') ++result.server_pings;
      if (kind === 'pong') {
        ++result.server_pongs;
        clock.say('server', `ping -> pong from the client (${act.pingNote})`);
      }
      if (kind === 'close') {
        result.server_close_code = d.code;
        clock.say('server', `close event: code ${d.code}${d.code === 1006 ? ' (no close frame)' : ''}`);
      }
    },
  });
  const dropsim = await startDropsim(act, server.port);
  // Session ids are dropsim's, one per hop: "[C1] accepted 127.0.0.1:40000 on alb, ..."
  // names the proxy, which the lines shown here carry in front.
  const hopOf = new Map();
  let sessionsClosed = 0;
  dropsim.listeners.push((line) => {
    const accepted = line.match(/^\[(C\d+)\] accepted \S+ on ([\w.-]+),/);
    if (accepted) hopOf.set(accepted[1], accepted[2]);
    const id = line.match(/^\[(C\d+)\]/)?.[1];
    if (!id) return;
    if (/^\[C\d+\] closed/.test(line)) ++sessionsClosed;
    if (/^\[C\d+\] (closed|heartbeat:)/.test(line) || opts.verbose) {
      const hop = hopOf.get(id) ?? '?';
      result.dropsim_log.push({ hop, line });
      clock.say(`dropsim ${hop}`, line);
    }
  });
  try {
    const url = `ws://127.0.0.1:${dropsim.albPort}/chat`;
    const client = connectChatClient(url, {
      pingSeconds: act.clientPing,
      timeScale: scale,
      hello: 'hello, anyone there?',
      onEvent: (kind, d) => {
        if (kind === 'ping') ++result.client_pings;
        if (kind === 'pong') {
          ++result.client_pongs;
          clock.say('client', `ping -> pong: ${act.pingNote}`);
        }
        if (kind === 'message') clock.say('client', `message: "${d.text}"`);
      },
    });
    const opened = await within(
      client.opened.then(() => true, (e) => e),
      5000,
      new Error('no 101 within 5 s'),
    );
    if (opened !== true) throw new Error(`the client could not open ${url}: ${opened.message}`);
    result.opened = true;
    // The story's clock starts at the 101: "exactly 60 seconds after the last sent message".
    clock.start('client', `WebSocket open (101) through alb -> nginx -> chat server; ${act.clientNote}`);

    const outcome = await within(client.closed, real(act.runFor), null);
    if (outcome) {
      result.dropped = true;
      result.close_code = outcome.code;
      result.close_reason = outcome.reason;
      result.closed_at_story_s = clock.storySeconds();
      result.closed_at_real_s = clock.realSeconds();
      clock.say(
        'client',
        `close event: code ${outcome.code}${outcome.code === 1006 ? ' (abnormal closure: the connection ended with no close frame)' : ''}, ` +
          `reason "${outcome.reason}"`,
      );
    } else {
      clock.say('client', `still connected after ${act.runFor}s, ${(act.runFor / 60).toFixed(1)} idle timeouts' worth; it says goodbye (1000)`);
      client.close();
      const bye = await within(client.closed, 3000, null);
      if (bye) result.close_code = bye.code;
    }
    // Both hops log their close (and heartbeat verdict); wait for them, bounded.
    for (let waited = 0; sessionsClosed < 2 && waited < 2000; waited += 20) await sleep(20);
    await sleep(50);
  } finally {
    await dropsim.stop();
    await within(server.close(), 2000);
  }
  result.as_expected = act.expect === 'drop' ? result.dropped && result.close_code === 1006 : result.opened && !result.dropped;
  return result;
}

const acts = [
  {
    number: 1,
    key: 'no-heartbeat',
    title: '09:00, the page: "the chat drops every 60 seconds"',
    setup: 'profile alb (idle_timeout 60s) -> nginx (proxy_read_timeout 60s); no pings from anyone',
    albProfile: 'alb',
    clientPing: 0,
    serverPing: 0,
    runFor: 90,
    expect: 'drop',
    clientNote: 'it says hello, then nothing: no messages, no pings',
    pingNote: '',
  },
  {
    number: 2,
    key: 'client-heartbeat',
    title: 'the fix: the client pings every 25 s (half the smallest timeout in the path, 60 s)',
    setup: 'profile alb -> nginx, as in act 1; client ws.ping() every 25s',
    albProfile: 'alb',
    clientPing: 25,
    serverPing: 0,
    runFor: 150,
    expect: 'survive',
    clientNote: 'it says hello, then pings every 25s',
    pingNote: 'traffic through both hops, their 60s idle timers start over',
  },
  {
    number: 3,
    key: 'server-pings-client-activity-only',
    title: "why the author believed server pings don't help: the ALB as the guide describes it",
    setup:
      'profile alb-client-activity-only (only client->server data resets its timer) -> nginx; ' +
      'server ws.ping() every 25s, the client only answers with pongs',
    albProfile: 'alb-client-activity-only',
    clientPing: 0,
    serverPing: 25,
    runFor: 90,
    expect: 'drop',
    clientNote: 'it says hello, then nothing; the server pings it every 25s',
    pingNote: 'nginx counts it; this ALB counts neither the ping nor the pong',
  },
  {
    number: 4,
    key: 'server-pings-alb',
    title: "the same server pings through the real ALB (AWS's docs: data either way counts)",
    setup: 'profile alb -> nginx; server ws.ping() every 25s, the client only answers with pongs',
    albProfile: 'alb',
    clientPing: 0,
    serverPing: 25,
    runFor: 150,
    expect: 'survive',
    clientNote: 'it says hello, then nothing; the server pings it every 25s',
    pingNote: 'traffic through both hops, their 60s idle timers start over',
  },
];

console.log('dropsim war story: "our chat app drops every 60 seconds" (seed guide, section 07)');
console.log('  chat client (Node ws)  ->  dropsim: alb  ->  dropsim: nginx  ->  chat server (Node ws), all on 127.0.0.1');
console.log(
  `  time is compressed: 1 story second = ${(scale * 1000).toFixed(0)} ms real, so 60 s takes ${(60 * scale).toFixed(1)} s`,
);
console.log('  times below: [story seconds | real seconds] since the act\'s WebSocket opened');

const results = [];
let failed = null;
try {
  for (const act of acts) results.push(await playAct(act));
} catch (e) {
  failed = e;
}
const [a1, a2, a3, a4] = results;
console.log('\nWhat happened:');
const at = (r) => `${r.closed_at_story_s.toFixed(1)}s (real ${r.closed_at_real_s.toFixed(2)}s)`;
const unexpected = (r) =>
  console.log(`  ${r.number}. NOT as the story goes: ${r.dropped ? `dropped at ${at(r)}, code ${r.close_code}` : `not dropped in ${r.run_for_s}s`}.`);
if (a1) {
  if (!a1.as_expected) unexpected(a1);
  else {
    const fired = a1.dropsim_log.map((l) => ({ hop: l.hop, timer: l.line.match(/\] closed by (\S+)/)?.[1] })).find((f) => f.timer);
    console.log(`  1. With no heartbeat the client was dropped at ${at(a1)}, close code 1006: a FIN, no close frame.`);
    if (fired?.hop === 'nginx') {
      console.log("     Both hops wait 60 s for traffic either way; nginx's proxy_read_timeout fired first (its 300 ms lazy");
      console.log("     re-arm lets it fire up to 0.3 s early), the ALB's idle_timeout next: raising only one would not help.");
    } else if (fired) {
      console.log(`     Both hops wait 60 s for traffic either way; ${fired.hop}'s ${fired.timer} fired first: raising only one would not help.`);
    }
  }
}
if (a2) {
  if (!a2.as_expected) unexpected(a2);
  else console.log(`  2. Pinging every ${a2.client_ping_s}s, the client survived ${a2.run_for_s}s (${a2.client_pongs} pongs came back).`);
}
if (a3) {
  if (!a3.as_expected) unexpected(a3);
  else {
    console.log(`  3. Through alb-client-activity-only, ${a3.server_pongs} answered server pings did not save it: dropped at`);
    console.log(`     ${at(a3)}, code 1006. What the story saw, hence its claim "server pings do not reset the ALB".`);
  }
}
if (a4) {
  if (!a4.as_expected) unexpected(a4);
  else {
    console.log(`  4. Through alb (AWS's documented ALB), the same server pings kept it open ${a4.run_for_s}s: pings and`);
    console.log('     pongs cross the ALB both ways and it counts traffic either way. Either heartbeat works;');
    console.log("     what the story's server lacked was pings that ran at all (its tcpdump showed none).");
  }
}
if (opts.results) {
  writeFileSync(opts.results, JSON.stringify({ time_scale: scale, acts: results, error: failed ? String(failed.stack) : null }, null, 2));
}
if (failed) {
  console.error(`\nthe story could not be played: ${failed.stack}`);
  process.exit(1);
}
if (!results.every((r) => r.as_expected)) {
  console.log('\n  (the story did not play out as expected: see the lines above)');
  process.exit(1);
}
