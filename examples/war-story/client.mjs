// The story's chat client: Node's `ws` library, says one line, then waits; an optional
// client heartbeat (ws.ping() every N seconds: the fix). It answers the server's pings with
// pongs on its own, as every RFC 6455 client (a browser too) does.
//
//   node client.mjs ws://127.0.0.1:8080/chat [--ping SECONDS] [--time-scale X]
//
// Prints the close event's code: 1006 is "abnormal closure", no close frame arrived.
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';

/**
 * Opens a chat client. Returns {opened, closed, close()}: `opened` resolves at the 101,
 * `closed` to {code, reason} at the close event (rejects if the connection never opened).
 * pingSeconds: story seconds between client pings (0: none).
 * onEvent(kind, details): 'open', 'ping' (sent), 'pong' (received), 'server-ping',
 * 'message', 'close'.
 */
export function connectChatClient(url, { pingSeconds = 0, timeScale = 1, hello = 'hello', onEvent = () => {} } = {}) {
  const ws = new WebSocket(url);
  let timer = null;
  const opened = new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const closed = new Promise((resolve) => {
    ws.on('close', (code, reason) => {
      clearInterval(timer);
      onEvent('close', { code, reason: reason.toString() });
      resolve({ code, reason: reason.toString() });
    });
  });
  ws.on('error', () => {}); // the close event follows and says what happened
  ws.on('open', () => {
    onEvent('open', {});
    if (hello) ws.send(hello);
    if (pingSeconds > 0) {
      timer = setInterval(() => {
        ws.ping();
        onEvent('ping', {});
      }, pingSeconds * timeScale * 1000);
    }
  });
  ws.on('pong', () => onEvent('pong', {}));
  ws.on('ping', () => onEvent('server-ping', {}));
  ws.on('message', (data) => onEvent('message', { text: data.toString() }));
  return {
    opened,
    closed,
    close: () => {
      clearInterval(timer);
      ws.close(1000, 'bye');
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      ping: { type: 'string', default: '0' },
      'time-scale': { type: 'string', default: '1' },
    },
  });
  const url = positionals[0] ?? 'ws://127.0.0.1:8080/chat';
  const start = Date.now();
  const client = connectChatClient(url, {
    pingSeconds: Number(values.ping),
    timeScale: Number(values['time-scale']),
    onEvent: (kind, d) =>
      console.log(`${((Date.now() - start) / 1000).toFixed(2)}s`, kind, d.text ?? d.code ?? '', d.reason ?? ''),
  });
  client.opened.catch((e) => {
    console.error(`cannot connect to ${url}: ${e.message}`);
    process.exitCode = 1;
  });
}
