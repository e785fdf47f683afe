import { main } from './main.ts';

/** Process entry point: wires the real streams and signals, then exits with the command's code. */
export async function run(): Promise<void> {
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const code = await main(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
    exitCode: 0,
    stopSignal: stop.signal,
  });
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  process.exitCode = code;
  // Let pending writes to stdout/stderr flush, then leave even if a library keeps a handle open.
  setImmediate(() => process.exit(code)).unref();
}
