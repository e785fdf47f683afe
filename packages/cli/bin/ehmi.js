#!/usr/bin/env node
// The `ehmi` command. Runs the TypeScript sources through tsx, so the CLI needs no build step: the @ehmi/* libraries
// resolve to their sources through the `ehmi-source` export condition (source-condition.mjs), not to their dist/.
import { register as registerHooks } from 'node:module';
import { register } from 'tsx/esm/api';

register();
registerHooks('./source-condition.mjs', import.meta.url);
const { run } = await import('../src/run.ts');
await run();
