import { main } from './main.ts';
import { watchStop } from './stop.ts';

/** Process entry point: wires the real streams and signals, then exits with the command's code. */
export async function run(): Promise<void> {
  // A reader that closed the pipe (`ehmi track ID | head -1`) ends the output, not the command with a stack trace:
  // later writes are dropped and the command finishes with its own exit code.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
    });
  }
  // SIGINT, SIGTERM, SIGHUP (and, under npm, the parent going away) stop `ehmi up`; see watchStop.
  const stop = watchStop({ stderr: process.stderr, env: process.env });
  const code = await main(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
    exitCode: 0,
    stopSignal: stop.signal,
  });
  stop.dispose();
  process.exitCode = code;
  // Let pending writes to stdout/stderr flush, then leave even if a library keeps a handle open.
  setImmediate(() => process.exit(code)).unref();
}
