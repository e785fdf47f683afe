/**
 * How a node's process starts: its V8 flags and the environment node gets. `npm start` and `bin/ehmi.js` (its `#!`
 * line) carry an organisation node's, `ehmi up --processes` and the benchmarks start each node's process with its
 * role's, and tests keep them equal to these lists.
 *
 * The young generation (`--max-semi-space-size`, MiB): V8's nursery is two semi-spaces that grow to 16 MiB each
 * under a high allocation rate (Node 20), and their pages stay resident once touched. A small nursery scavenges
 * more often: 4 MiB costs about 9–20 % more CPU per small message than 8 MiB (DESIGN-NOTES.md "The hot path's CPU:
 * the young generation"), but a node whose AP carries a large payload needs the room: every 256 KB chunk of it (file
 * read, gzip's stored blocks, cipher, TLS) is a Buffer freed only when a scavenge collects its handle (V8 forces one
 * once about 32 MiB of them are young), and with 8 MiB a 200 MB send peaked at 222–251 MiB against 197–231 with 4
 * (DESIGN-NOTES.md "The large payload's memory: glibc's heap, the young generation per role"): an organisation's
 * node keeps 4 MiB, under the 256 MiB a 1 GB transfer may take (docs/architecture.md "Limits"). There is no point
 * between: V8 (Node 20) takes the size up to a power of two, so 5, 6 or 7 run as 8 (DESIGN-NOTES.md "Allocations per
 * message and the collector"). The central node
 * carries no large payload (EDS, registers, the authorization server) and runs in a process of its own under
 * `ehmi up --processes`: 8 MiB, which keeps nearly all of 16 MiB's saving; with 16 MiB its process peaked at 253 MiB
 * in the bench (EDS, SQLite's cache, the authorization server), too close to the 256 MiB every process keeps under.
 *
 * @example
 * spawn(process.execPath, [...NODE_V8_FLAGS, script], { env: nodeEnvironment(process.env) });
 */
export const NODE_V8_FLAGS: readonly string[] = ['--max-semi-space-size=4'];

/** The central node's V8 flags ({@link NODE_V8_FLAGS} are an organisation's, whose AP may carry a large payload). */
export const CENTRAL_NODE_V8_FLAGS: readonly string[] = ['--max-semi-space-size=8'];

/**
 * The environment every node's process starts with. `glibc.malloc.mmap_threshold=131072`: an allocation of 128 KiB
 * or more (a large payload's chunks) is a mapping of its own, unmapped when freed. Without it glibc maps such chunks
 * only until it first frees one, then raises its threshold (up to 32 MiB) and serves them from its heap, which keeps
 * the freed memory: 60–75 MiB of heap on a 200 MB send, against 8–17 MiB in a node without a large payload. Smaller
 * allocations are as before. Other C libraries (musl, macOS) ignore the variable.
 */
export const NODE_ENVIRONMENT: Readonly<Record<string, string>> = {
  GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold=131072',
};

/**
 * `env` with {@link NODE_ENVIRONMENT} added: tunables already in `env.GLIBC_TUNABLES` are kept, after ours, so that
 * an operator's own setting of the same tunable wins (glibc takes the last of a name; `npm start` and the `#!` line
 * do the same).
 *
 * @example
 * spawn(process.execPath, [...NODE_V8_FLAGS, script], { env: nodeEnvironment(process.env) });
 */
export function nodeEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const theirs = (env.GLIBC_TUNABLES ?? '').split(':').filter((t) => t !== '');
  return {
    ...env,
    ...NODE_ENVIRONMENT,
    GLIBC_TUNABLES: [NODE_ENVIRONMENT.GLIBC_TUNABLES!, ...theirs].join(':'),
  };
}
