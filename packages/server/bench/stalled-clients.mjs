// The attacking side of stalled.bench.ts, in its own process so that its memory is not the access point's.
// Commands over IPC: { open: kind, n, port, url, tls, prefix? } → { opened }, { cut: true } → { cut }.
import { readFileSync } from 'node:fs';
import { connect } from 'node:tls';

const sockets = new Set();
const timers = new Set();

function header(url, contentType, length) {
  const u = new URL(url);
  return `POST ${u.pathname} HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: ${contentType}\r\nContent-Length: ${length}\r\n\r\n`;
}

function openOne(cmd) {
  return new Promise((resolve) => {
    const u = new URL(cmd.url);
    const socket = connect({
      host: u.hostname,
      port: Number(u.port),
      ca: [readFileSync(cmd.tls.ca)],
      cert: readFileSync(cmd.tls.cert),
      key: readFileSync(cmd.tls.key),
    });
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    socket.on('data', () => {});
    socket.once('secureConnect', () => {
      const done = () => resolve();
      const boundary = 'stalled-boundary';
      const multipart = `multipart/related; boundary="${boundary}"; type="application/soap+xml"`;
      switch (cmd.open) {
        case 'idle':
          return done();
        case 'headers':
          return socket.write(
            `POST ${u.pathname} HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: ${multipart}\r\n`,
            done,
          );
        case 'root': {
          socket.write(header(cmd.url, multipart, 8 * 1024 * 1024));
          socket.write(
            `--${boundary}\r\nContent-Type: application/soap+xml\r\nContent-ID: <root>\r\n\r\n<S:Envelope>`,
          );
          return socket.write(Buffer.alloc(3_900_000, 0x20), done);
        }
        case 'attachment': {
          const body = readFileSync(cmd.prefix.body);
          socket.write(header(cmd.url, cmd.prefix.contentType, body.length));
          return socket.write(body.subarray(0, body.length >> 1), done);
        }
        case 'slow': {
          socket.write(header(cmd.url, multipart, 1024 * 1024));
          const timer = setInterval(() => socket.write('-'), 1000);
          timers.add(timer);
          return done();
        }
      }
    });
  });
}

process.on('message', async (cmd) => {
  if (cmd.open) {
    for (let i = 0; i < cmd.n; i += 50) {
      await Promise.all(Array.from({ length: Math.min(50, cmd.n - i) }, () => openOne(cmd)));
    }
    process.send({ opened: sockets.size });
  } else if (cmd.cut) {
    for (const t of timers) clearInterval(t);
    timers.clear();
    for (const s of sockets) s.destroy();
    process.send({ cut: true });
  }
});
