// A small TCP load balancer on loopback, for the tests and the bench that run one organisation as several instances
// when no real one (haproxy) is installed. Layer 4, as an operator would put in front of mutual TLS: each incoming
// connection goes, round robin, to the next backend that takes it; a backend that refuses the connection (a killed
// instance) is skipped for that connection, so a client only sees an error when every backend refuses. Connections
// are counted per backend.
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';

export interface Backend {
  host: string;
  port: number;
}

export interface TcpBalancer {
  host: string;
  port: number;
  /** Connections handed to each backend so far (`host:port` → count). */
  connections: Record<string, number>;
  close(): Promise<void>;
}

/** Listen on `host:port` (0 picks one) and spread connections over `backends`. */
export async function startTcpBalancer(options: {
  host: string;
  port: number;
  backends: readonly Backend[];
}): Promise<TcpBalancer> {
  const { backends } = options;
  const key = (b: Backend) => `${b.host}:${b.port}`;
  const connections: Record<string, number> = Object.fromEntries(backends.map((b) => [key(b), 0]));
  const open = new Set<Socket>();
  let next = 0;
  const server: Server = createServer({ pauseOnConnect: true }, (client) => {
    open.add(client);
    client.once('close', () => open.delete(client));
    client.on('error', () => client.destroy());
    const start = next++ % backends.length;
    const attempt = (tried: number) => {
      if (tried >= backends.length || client.destroyed) {
        client.destroy();
        return;
      }
      const backend = backends[(start + tried) % backends.length]!;
      const upstream = tcpConnect({ host: backend.host, port: backend.port });
      open.add(upstream);
      upstream.once('close', () => open.delete(upstream));
      const refused = () => {
        upstream.destroy();
        attempt(tried + 1);
      };
      upstream.once('error', refused);
      upstream.once('connect', () => {
        upstream.off('error', refused);
        connections[key(backend)]!++;
        upstream.on('error', () => client.destroy());
        client.once('close', () => upstream.destroy());
        upstream.once('close', () => client.destroy());
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      });
    };
    attempt(0);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  return {
    host: options.host,
    port: typeof address === 'object' && address ? address.port : options.port,
    connections,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of open) s.destroy();
      await closed;
    },
  };
}
