/**
 * The V8 flags a node's process starts with: `npm start` and `bin/ehmi.js` (its `#!` line) carry them, the
 * benchmarks start their node processes with them, and a test keeps those three equal to this list.
 *
 * `--max-semi-space-size=8` (MiB): V8's young generation is two semi-spaces that grow to 16 MiB each under a high
 * allocation rate (Node 20), and their pages stay resident once touched: 32 MiB of a node's ~190 MiB start RSS held
 * for garbage that is mostly dead at the next scavenge. A large payload makes that worse: every 64 KB chunk (file
 * read, cipher, gzip, TLS output) is a Buffer whose memory outside the heap is freed only when a scavenge collects
 * its handle, so with a 32 MiB nursery tens of MiB of dead chunks pile up between two scavenges. An 8 MiB semi-space
 * keeps a node process under the 256 MiB a 1 GB transfer may take (docs/architecture.md "Limits"); 4 MiB saved
 * another 8 MiB but cost 10–25 % more CPU per small message (scavenges twice as often, more objects promoted;
 * DESIGN-NOTES.md "The hot path's CPU: the young generation, the bench's own polling").
 *
 * @example
 * spawn(process.execPath, [...NODE_V8_FLAGS, script]);
 */
export const NODE_V8_FLAGS: readonly string[] = ['--max-semi-space-size=8'];
