import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { NETWORK_PORT_SPAN } from '@ehmi/network';

/**
 * Ports for servers the tests start, and start again on the same port (a restarted node, a network's port base).
 * They come from below the kernel's ephemeral range: a port taken from that range (listen on 0) and freed again can
 * be handed to any outgoing connection on the machine (a PostgreSQL client, an HTTP request of another test file)
 * before the test listens on it again, and the restart then fails with EADDRINUSE.
 */
const FIRST = 10_000;

function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > FIRST + 1000 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen({ host: '127.0.0.1', port, exclusive: true }, () => s.close(() => resolve(true)));
  });
}

/** A random span of `size` consecutive ports below the ephemeral range, free now (random: test files run in parallel). */
async function freeSpan(size: number, check = size): Promise<number> {
  const slots = Math.floor((ephemeralLow() - FIRST) / size);
  for (let i = 0; i < 100; i++) {
    const base = FIRST + Math.floor(Math.random() * slots) * size;
    let ok = true;
    for (let p = base; p < base + check && ok; p++) ok = await portFree(p);
    if (ok) return base;
  }
  throw new Error(`no free span of ${size} ports found below ${ephemeralLow()}`);
}

/** One free port below the ephemeral range. */
export function freePort(): Promise<number> {
  return freeSpan(1);
}

/** A port base for the local network: its 50-port span starts free (the first 20, which a network binds, checked). */
export function freePortBase(): Promise<number> {
  return freeSpan(NETWORK_PORT_SPAN, 20);
}
