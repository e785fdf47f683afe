// A process that wires watchStop as `ehmi` does, for the signal tests: EHMI_TEST_STOP says whether a command listens
// (`listen`) and the repeat grace. Prints `armed` when its handlers are in place, `stopping <reason>` on a request.
import { watchStop } from '../src/stop.ts';

const settings = JSON.parse(process.env.EHMI_TEST_STOP ?? '{}') as { listen?: boolean; graceMs?: number };
const stop = watchStop({ stderr: process.stderr, env: process.env, repeatGraceMs: settings.graceMs ?? 0 });
if (settings.listen) {
  stop.signal.addEventListener('abort', () =>
    process.stdout.write(`stopping ${String(stop.signal.reason)}\n`),
  );
}
// Stay alive until a signal ends the process (a long close that never finishes).
setInterval(() => {}, 60_000);
process.stdout.write('armed\n');
