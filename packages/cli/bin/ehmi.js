#!/usr/bin/env -S GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072:${GLIBC_TUNABLES} node --max-semi-space-size=4
// The #! line carries an organisation node's environment and V8 flags (packages/server/src/runtime.ts:
// NODE_ENVIRONMENT, NODE_V8_FLAGS, and why).
// The `ehmi` command. Runs the TypeScript sources through tsx, so the CLI needs no build step: the @ehmi/* libraries
// resolve to their sources through the `ehmi-source` export condition (source-condition.mjs), not to their dist/.
import { register as registerHooks } from 'node:module';
import { register } from 'tsx/esm/api';

register();
registerHooks('./source-condition.mjs', import.meta.url);
const { run } = await import('../src/run.ts');
await run();
