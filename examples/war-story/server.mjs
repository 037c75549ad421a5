// The story's chat server: Node's `ws` library, every message broadcast to every client,
// and an optional server heartbeat (ws.ping() every N seconds, as the story's server had).
//
//   node server.mjs [--port 3000] [--ping SECONDS] [--time-scale X]
//
// --ping 0 (the default) sends no pings. --time-scale multiplies the interval, so that
// "30 s" passes in 1.5 s at 0.05, in step with `dropsim run --time-scale 0.05`.
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { WebSocketServer } from 'ws';

/**
 * Starts the chat server on 127.0.0.1. Resolves to {port, close()} once it listens.
 * pingSeconds: story seconds between server pings to each client (0: none).
 * onEvent(kind, details): 'connection', 'ping', 'pong', 'message', 'close' per client.
 */
export function startChatServer({ port = 0, pingSeconds = 0, timeScale = 1, onEvent = () => {} } = {}) {
  return new Promise((resolve, reject) => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port });
    let next = 0;
    wss.on('error', reject);
    wss.on('connection', (ws) => {
      const id = `user${++next}`;
      onEvent('connection', { id });
      let timer = null;
      if (pingSeconds > 0) {
        timer = setInterval(() => {
          ws.ping();
          onEvent('ping', { id });
        }, pingSeconds * timeScale * 1000);
      }
      ws.on('pong', () => onEvent('pong', { id }));
      ws.on('message', (data) => {
        onEvent('message', { id, text: data.toString() });
        for (const peer of wss.clients) peer.send(`${id}: ${data}`);
      });
      ws.on('close', (code, reason) => {
        clearInterval(timer);
        onEvent('close', { id, code, reason: reason.toString() });
      });
      ws.on('error', () => {}); // the close event follows and says what happened
    });
    wss.on('listening', () => {
      resolve({
        port: wss.address().port,
        close: () =>
          new Promise((done) => {
            for (const ws of wss.clients) ws.terminate();
            wss.close(() => done());
          }),
      });
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '3000' },
      ping: { type: 'string', default: '0' },
      'time-scale': { type: 'string', default: '1' },
    },
  });
  const server = await startChatServer({
    port: Number(values.port),
    pingSeconds: Number(values.ping),
    timeScale: Number(values['time-scale']),
    onEvent: (kind, d) => console.log(new Date().toISOString(), d.id, kind, d.text ?? d.code ?? ''),
  });
  console.log(`chat server on ws://127.0.0.1:${server.port}/chat, pings every ${values.ping}s (0: none)`);
}
