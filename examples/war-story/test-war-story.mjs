// The war story's test (ctest example-war-story): plays war-story.mjs, then checks what
// happened in each act, not only its exit code. Times are story seconds at the story's time
// scale (0.05: 1 s is 50 ms real); the bounds allow a loaded 2-core machine 250 ms of
// lateness, and nothing earlier than the timers allow (nginx's lazy re-arm: 0.3 s early).
//
//   node test-war-story.mjs --dropsim PATH [--work DIR] [--time-scale 0.05]
import { spawn } from 'node:child_process';
import { readFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values: opts } = parseArgs({
  options: {
    dropsim: { type: 'string' },
    work: { type: 'string' },
    'time-scale': { type: 'string', default: '0.05' },
  },
});
if (!opts.dropsim) {
  console.error('usage: node test-war-story.mjs --dropsim PATH [--work DIR] [--time-scale X]');
  process.exit(2);
}
const work = opts.work ?? mkdtempSync(path.join(tmpdir(), 'dropsim-war-story-'));
const resultsFile = path.join(work, 'war-story-results.json');
const scale = Number(opts['time-scale']);
const lateSeconds = 0.25 / scale; // 250 ms real, in story seconds

// The story, bounded: 4 acts of at most 150 story seconds each, plus start-ups.
const child = spawn(
  process.execPath,
  [path.join(here, 'war-story.mjs'), '--dropsim', opts.dropsim, '--work', work, '--time-scale', String(scale), '--results', resultsFile],
  { stdio: 'inherit' },
);
const limitMs = (4 * 150 * scale + 30) * 1000;
const killer = setTimeout(() => {
  console.error(`FAIL: war-story.mjs still running after ${limitMs / 1000}s: killed`);
  child.kill('SIGTERM');
}, limitMs);
const exitCode = await new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal)));
clearTimeout(killer);

const failures = [];
const check = (ok, what) => {
  console.log(`${ok ? 'ok  ' : 'FAIL'}  ${what}`);
  if (!ok) failures.push(what);
};
let results;
try {
  results = JSON.parse(readFileSync(resultsFile, 'utf8'));
} catch (e) {
  console.error(`FAIL: no results from war-story.mjs (${e.message}); it exited with ${exitCode}`);
  process.exit(1);
}
console.log('\nChecks:');
check(results.error === null, `the story played to the end${results.error ? `: ${results.error}` : ''}`);
const act = (key) => results.acts.find((a) => a.key === key);
const fmt = (x, digits) => (typeof x === 'number' ? x.toFixed(digits) : 'none');
const between = (x, lo, hi) => typeof x === 'number' && x >= lo && x <= hi;
const logOf = (a, hop) => (a?.dropsim_log ?? []).filter((l) => hop === undefined || l.hop === hop).map((l) => l.line);

// Act 1: no heartbeat. Dropped at 60 s with 1006; dropsim names the timer and each
// direction's idleness. Either hop may be the one: both are 60 s (nginx's lazy re-arm
// usually makes it first).
const a1 = act('no-heartbeat');
check(a1?.opened, 'act 1: the client opened through alb -> nginx');
check(a1?.dropped && a1.close_code === 1006, `act 1: the silent client's close event reports 1006 (got ${a1?.close_code})`);
check(
  between(a1?.closed_at_story_s, 59.5, 60 + lateSeconds),
  `act 1: dropped at ~60 story seconds (${fmt(a1?.closed_at_story_s, 2)}s, real ${fmt(a1?.closed_at_real_s, 3)}s; ` +
    `allowed 59.5 to ${(60 + lateSeconds).toFixed(1)})`,
);
check(a1?.server_close_code === 1006, `act 1: the server saw 1006 too (got ${a1?.server_close_code})`);
const timerLine = logOf(a1).find((l) => /closed by (idle_timeout|proxy_read_timeout) after (59\.[7-9]|6\d\.)\d*s idle/.test(l));
check(!!timerLine, "act 1: dropsim's log names the timer that fired (idle_timeout or proxy_read_timeout, after ~60s idle)");
check(
  !!timerLine && /client→server: last data \d+\.\ds ago, no pings/.test(timerLine) && /server→client: last data \d+\.\ds ago, no pings/.test(timerLine),
  'act 1: ... and says how long each direction was idle (client→server and server→client: last data ~60s ago, no pings)',
);
check(!!timerLine && /client will see 1006/.test(timerLine), 'act 1: ... and that the client will see 1006');

// Act 2: the client pings every 25 s and survives 150 s.
const a2 = act('client-heartbeat');
check(a2?.opened && !a2.dropped, 'act 2: with a 25 s client ping, the client is still connected after 150 story seconds');
check(a2?.client_pongs >= 5, `act 2: its pings came back as pongs through both hops (${a2?.client_pongs}, want >= 5)`);
check(a2?.close_code === 1000, `act 2: it then closed normally with 1000 (got ${a2?.close_code})`);
// A loaded machine delays the pings (27.0 s seen beside two CPU burners): any 2x.x s, judged ok.
check(
  logOf(a2, 'alb').some((l) => /heartbeat: client→server: pings every 2\d\.\ds vs idle_timeout 60s: margin 2\.\dx, ok/.test(l)),
  "act 2: dropsim judges the client's heartbeat ok against the ALB's idle_timeout",
);

// Act 3: server pings only, through the guide's ALB: dropped at 60 s despite them.
const a3 = act('server-pings-client-activity-only');
check(a3?.opened && a3.dropped && a3.close_code === 1006, `act 3: alb-client-activity-only drops the client despite server pings, 1006 (got ${a3?.close_code})`);
check(
  between(a3?.closed_at_story_s, 59.5, 60 + lateSeconds),
  `act 3: ... at ~60 story seconds (${fmt(a3?.closed_at_story_s, 2)}s, real ${fmt(a3?.closed_at_real_s, 3)}s)`,
);
check(a3?.server_pings >= 2 && a3.server_pongs >= 2, `act 3: the server's pings were answered before the drop (${a3?.server_pongs} pongs, want >= 2)`);
const a3close = logOf(a3, 'alb').find((l) => /closed by idle_timeout after/.test(l));
check(
  !!a3close && /client→server: last data \d+\.\ds ago, no pings, \d+ pongs?/.test(a3close) && /server→client: [^;]*pings every/.test(a3close),
  "act 3: the ALB's idle_timeout fired, its log showing the client's pongs and the server's pings",
);
check(
  logOf(a3, 'alb').some((l) => /heartbeat: .*server→client: pings every [\d.]+s, but no idle timer counts them/.test(l)),
  "act 3: dropsim says no ALB timer counts the server's pings",
);

// Act 4: the same server pings through the documented ALB keep it open.
const a4 = act('server-pings-alb');
check(a4?.opened && !a4.dropped, 'act 4: through alb, the same server pings keep the client connected 150 story seconds');
check(a4?.server_pongs >= 5, `act 4: the server's pings were answered all along (${a4?.server_pongs} pongs, want >= 5)`);
check(a4?.close_code === 1000, `act 4: it then closed normally with 1000 (got ${a4?.close_code})`);

check(exitCode === 0, `war-story.mjs exited 0 (got ${exitCode})`);
if (failures.length) {
  console.log(`\n${failures.length} check(s) failed`);
  process.exit(1);
}
console.log('\nall checks passed');
