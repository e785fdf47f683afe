#!/usr/bin/env node
// The `ehmi` command. Runs the TypeScript sources through tsx, so the CLI needs no build step.
import { register } from 'tsx/esm/api';

register();
const { run } = await import('../src/cli/run.ts');
await run();
