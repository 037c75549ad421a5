// Drives close-codes.html in headless Chromium through dropsim and checks the close code the
// browser reports: 1006 for an idle drop under `alb`, 1001 for a drain through the control
// API, 1009 for a message over API Gateway's 32 KiB frame quota, 1001 with wasClean true when
// dropsim itself gets SIGTERM (and then exits 0). Ends with a screenshot.
//
// Usage: node close_codes_test.mjs DROPSIM OUT_DIR   (run.sh installs the npm packages first)
// Environment: CHROMIUM (default /usr/bin/chromium).
// Exit 0 when every close matches, 1 otherwise; the screenshot is written either way.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { chromium } from 'playwright-core';
import { startServer } from './server.mjs';

const [dropsimPath, outDir] = process.argv.slice(2);
if (!dropsimPath || !outDir) {
  console.error('usage: node close_codes_test.mjs DROPSIM OUT_DIR');
  process.exit(2);
}
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const screenshot = path.resolve(outDir, 'close-codes.png');
const t0 = performance.now();
const stamp = () => `[${((performance.now() - t0) / 1000).toFixed(2).padStart(6)}s]`;
const say = (...a) => console.log(stamp(), ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Every wait is bounded: a promise that has not settled within ms fails with what it was for.
function within(ms, promise, what) {
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

// --- dropsim, with its control API on a free port --------------------------------------
const dropsimLog = [];
let apiPortSeen;
const apiPort = new Promise((resolve) => { apiPortSeen = resolve; });
const dropsim = spawn(dropsimPath, ['run', '--api', '127.0.0.1:0'], { stdio: ['ignore', 'inherit', 'pipe'] });
const dropsimExit = new Promise((resolve) => dropsim.once('exit', (code, sig) => resolve({ code, sig })));
readline.createInterface({ input: dropsim.stderr }).on('line', (line) => {
  dropsimLog.push(line);
  const m = /control API listening on 127\.0\.0\.1:(\d+)/.exec(line);
  if (m) apiPortSeen(Number(m[1]));
});

let api;
async function call(method, urlPath, body) {
  const res = await within(5000, fetch(api + urlPath, {
    method, headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  }), `${method} ${urlPath}`);
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${urlPath} -> ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

// --- the scenarios ----------------------------------------------------------------------
// Each gets its own proxy, created through the API with port 0 and the profile it needs.
// dropsim's close frames end with a full closing handshake (FIN, then it reads the
// browser's reply), so 1001 and 1009 are clean closes; the idle drop is not.
const scenarios = [
  {
    proxy: 'alb-idle', profile: 'alb', settings: { idle_timeout: '1s' },
    label: 'alb, idle_timeout=1s: a silent client',
    expect: { code: 1006, reason: '', wasClean: false }, seconds: [0.8, 2.5],
    act: async () => {},
  },
  {
    proxy: 'alb-drain', profile: 'alb', settings: {},
    label: 'alb: POST /dropsim/sessions {"action":"drain"}',
    expect: { code: 1001, reason: 'going away', wasClean: true }, seconds: [0.3, 1.5],
    act: async (page, id) => {
      await sleep(300);
      await page.evaluate((id) => closeCodes.note(id, 'the test: POST /dropsim/sessions {"action":"drain"}'), id);
      const answer = await call('POST', '/dropsim/sessions', { action: 'drain' });
      say(`  API drain -> ${JSON.stringify(answer)}`);
      if (answer.sessions !== 1) throw new Error(`the drain reached ${answer.sessions} sessions, not 1`);
    },
  },
  {
    proxy: 'api-gateway', profile: 'api-gateway', settings: {},
    label: 'api-gateway: 16 KiB both ways, then the page sends 40 KiB',
    expect: { code: 1009, reason: 'Message too big', wasClean: true }, seconds: [0, 1.5],
    act: async (page, id) => {
      await underTheQuota(page, id);
      await page.evaluate((id) => closeCodes.send(id, 'x'.repeat(40 * 1024)), id);
    },
  },
  {
    proxy: 'api-gateway-down', profile: 'api-gateway', settings: {},
    label: 'api-gateway: 16 KiB both ways, then the server sends 64 KiB',
    expect: { code: 1009, reason: 'Message too big', wasClean: true }, seconds: [0, 1.5],
    act: async (page, id) => {
      await underTheQuota(page, id);
      await page.evaluate((id) => closeCodes.send(id, 'send 65536'), id);
    },
  },
  {
    // Last: dropsim is gone afterwards. The drain sends 1001, then waits (--drain-timeout)
    // for the browser's reply and its hang-up before exiting, so the close is clean.
    proxy: 'alb-sigterm', profile: 'alb', settings: {},
    label: 'alb: SIGTERM to dropsim, as a restarting server',
    expect: { code: 1001, reason: 'going away', wasClean: true }, seconds: [0.3, 1.5],
    act: async (page, id) => {
      await sleep(300);
      await page.evaluate((id) => closeCodes.note(id, 'the test: kill -TERM dropsim'), id);
      dropsim.kill('SIGTERM');
    },
    after: async () => {
      const e = await within(5000, dropsimExit, 'dropsim exiting after SIGTERM');
      if (e.code !== 0) throw new Error(`dropsim exited ${JSON.stringify(e)} after SIGTERM`);
      if (!dropsimLog.some((l) => l.includes('drain: 1 session(s) closed cleanly')))
        throw new Error(`dropsim did not log a clean drain:\n${dropsimLog.join('\n')}`);
      say('  dropsim exited 0 after draining cleanly');
    },
  },
];

// Asks the server for 16 KiB (under API Gateway's 32 KiB frame quota) and waits until it came.
async function underTheQuota(page, id) {
  await page.evaluate((id) => closeCodes.send(id, 'send 16384'), id);
  const deadline = performance.now() + 3000;
  while ((await page.evaluate((id) => closeCodes.received(id), id)).length === 0) {
    if (performance.now() > deadline) throw new Error('the 16 KiB message (under the quota) never arrived');
    await sleep(20);
  }
}

let server, context, page, userDataDir;
const failures = [];
const results = [];
const watchdog = setTimeout(() => {
  console.error(`${stamp()} FAIL: the whole test took over 50 s`);
  dropsim.kill('SIGKILL');
  process.exit(1);
}, 50_000);

try {
  if (!fs.existsSync(chromiumPath)) throw new Error(`${chromiumPath} not found`);
  fs.mkdirSync(outDir, { recursive: true });

  server = await startServer(0);
  say(`page and WebSocket server on 127.0.0.1:${server.port}`);
  const port = await within(10_000, Promise.race([apiPort, dropsimExit.then((e) => {
    throw new Error(`dropsim exited before its API listened: ${JSON.stringify(e)}\n${dropsimLog.join('\n')}`);
  })]), 'dropsim logging "control API listening on 127.0.0.1:PORT"');
  api = `http://127.0.0.1:${port}`;
  say(`dropsim's control API on 127.0.0.1:${port}`);

  for (const s of scenarios) {
    const proxy = await call('POST', '/proxies', {
      name: s.proxy, listen: '127.0.0.1:0', upstream: `127.0.0.1:${server.port}`,
      profile: s.profile, settings: s.settings,
    });
    s.listen = proxy.listen;
    say(`proxy ${s.proxy}: ${s.listen} -> 127.0.0.1:${server.port}, profile ${s.profile} ${JSON.stringify(s.settings)}`);
  }

  // A fresh, empty profile directory; no background networking (this machine's network
  // is closed, and a browser's own traffic would only add noise).
  userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dropsim-chromium-'));
  context = await within(20_000, chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumPath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 560 },
    timeout: 20_000,
  }), 'Chromium starting');
  context.setDefaultTimeout(10_000);
  page = context.pages()[0] || await context.newPage();
  say(`Chromium ${context.browser()?.version() ?? ''} started (${chromiumPath})`);
  await page.goto(`http://127.0.0.1:${server.port}/`);

  for (const s of scenarios) {
    say(`${s.label}: opening ws://${s.listen}/`);
    const id = await within(5000, page.evaluate(([url, label]) => closeCodes.open(url, label),
                                                [`ws://${s.listen}/`, s.label]), `${s.label}: open`);
    await s.act(page, id);
    const got = await within(5000, page.evaluate((id) => closeCodes.closed(id), id), `${s.label}: close event`);
    const seconds = got.seconds;  // the page's: from the open event to the close event
    results.push({ scenario: s.label, ...got });
    const wrong = [];
    for (const k of Object.keys(s.expect))
      if (got[k] !== s.expect[k]) wrong.push(`${k} ${JSON.stringify(got[k])}, expected ${JSON.stringify(s.expect[k])}`);
    if (seconds < s.seconds[0] || seconds > s.seconds[1])
      wrong.push(`closed ${seconds.toFixed(2)} s after open, expected ${s.seconds[0]}-${s.seconds[1]} s`);
    const line = `code ${got.code}, reason ${JSON.stringify(got.reason)}, wasClean ${got.wasClean}, ` +
                 `${seconds.toFixed(2)} s after open`;
    if (wrong.length) {
      failures.push(`${s.label}: ${wrong.join('; ')}`);
      say(`  FAIL: ${line}: ${wrong.join('; ')}`);
    } else {
      say(`  ok: ${line}`);
    }
    if (s.after) await s.after();
  }
} catch (e) {
  failures.push(e.stack || String(e));
  say(`FAIL: ${e.message}`);
} finally {
  if (page) {
    try {
      await within(10_000, page.screenshot({ path: screenshot, fullPage: true }), 'the screenshot');
      say(`screenshot: ${screenshot}`);
    } catch (e) {
      failures.push(`screenshot: ${e.message}`);
    }
  }
  if (context) await within(10_000, context.close(), 'Chromium closing').catch(() => {});
  if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
  if (server) await within(5000, server.close(), 'the server closing').catch(() => {});
  dropsim.kill('SIGINT');
  await within(5000, dropsimExit, 'dropsim exiting').catch(() => dropsim.kill('SIGKILL'));
  clearTimeout(watchdog);
}

console.log('\ndropsim said:');
for (const l of dropsimLog) if (/\] (closed|heartbeat|upgraded)/.test(l)) console.log('  ' + l);
if (failures.length) {
  console.log(`\nFAIL (${failures.length}):\n  ` + failures.join('\n  '));
  process.exit(1);
}
console.log(`\nok: ${results.map((r) => r.code).join(', ')} as expected`);
