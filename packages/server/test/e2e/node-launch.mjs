// Starts node-process.ts the way bin/ehmi.js starts the CLI (tsx registered in-process, not `--import tsx`), so
// worker threads the node starts do not inherit the TypeScript loader: what `npm start` costs, for the benchmark.
import { register } from 'tsx/esm/api';

register();
await import('./node-process.ts');
