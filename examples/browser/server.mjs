// The server behind dropsim: serves close-codes.html over HTTP and, on the same port, a
// WebSocket (Node's `ws`) that answers "send N" with one text message of N bytes, sent as
// one frame: how the page asks for a message larger than API Gateway's 32 KiB frame quota.
// Anything else is echoed.
//
// The test imports startServer(); run alone it serves on 127.0.0.1:PORT (default 0, a free
// port) and prints the page's address:
//   node server.mjs [PORT]
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'ws';

const here = path.dirname(fileURLToPath(import.meta.url));
const page = fs.readFileSync(path.join(here, 'close-codes.html'));

export function startServer(port = 0) {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    if (url.pathname === '/' || url.pathname === '/close-codes.html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(page);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found\n');
    }
  });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws) => {
    ws.on('error', () => {});  // a drop is what this example is about; never crash on it
    ws.on('message', (data) => {
      const text = data.toString();
      const m = /^send (\d+)$/.exec(text);
      if (m) ws.send('x'.repeat(Math.min(Number(m[1]), 16 << 20)));
      else ws.send(text);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      resolve({
        port: server.address().port,
        close: () => new Promise((done) => {
          for (const c of wss.clients) c.terminate();
          wss.close();
          server.closeAllConnections();
          server.close(() => done());
        }),
      });
    });
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { port } = await startServer(Number(process.argv[2] || 0));
  console.log(`page:      http://127.0.0.1:${port}/`);
  console.log(`websocket: ws://127.0.0.1:${port}/  (put dropsim in front of it: --upstream 127.0.0.1:${port})`);
}
