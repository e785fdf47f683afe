import type { Writable } from 'node:stream';

/** What a command needs from its surroundings; tests pass their own streams. */
export interface CliContext {
  stdout: Writable;
  stderr: Writable;
  /** Environment the command sees (config, DATABASE_URL). */
  env: NodeJS.ProcessEnv;
  /** Working directory for relative paths. */
  cwd: string;
  /** The exit code the command asks for when it returns normally (0 unless set). */
  exitCode: number;
  /** Resolves when the user asks a long-running command (`ehmi up`) to stop (SIGINT/SIGTERM). */
  stopSignal: AbortSignal;
}

export function writeLine(stream: Writable, line: string): void {
  stream.write(`${line}\n`);
}
