/**
 * The V8 flags a node's process starts with: `npm start` and `bin/ehmi.js` (its `#!` line) carry them, the
 * benchmarks start their node processes with them, and a test keeps those three equal to this list.
 *
 * `--max-semi-space-size=4` (MiB): V8's young generation is two semi-spaces that grow to 16 MiB each under a high
 * allocation rate (Node 20), and their pages stay resident once touched: 32 MiB of a node's ~190 MiB start RSS held
 * for garbage that is mostly dead at the next scavenge. A large payload makes that worse: every 64 KB chunk (file
 * read, cipher, gzip, TLS output) is a Buffer whose memory outside the heap is freed only when a scavenge collects
 * its handle, so with a 32 MiB nursery tens of MiB of dead chunks pile up between two scavenges. A 4 MiB semi-space
 * scavenges eight times as often, each as cheap (what survives a chunk's pipeline is small), and keeps a node
 * process under the 256 MiB a 1 GB transfer may take (docs/architecture.md "Limits"). 8 MiB was measured: about 9 %
 * less CPU per small message, but a 200 MB transfer's peak rose to 240–248 MiB, above the 256 MB (244 MiB) the
 * large-payload target allows (DESIGN-NOTES.md "The hot path's CPU: the young generation, the bench's own polling").
 *
 * @example
 * spawn(process.execPath, [...NODE_V8_FLAGS, script]);
 */
export const NODE_V8_FLAGS: readonly string[] = ['--max-semi-space-size=4'];
