// Starts large-sender.ts the way node-launch.mjs starts a node (tsx registered in-process), for the end-to-end
// benchmark's large payload: the sending node in a process of its own, so its peak RSS is its own.
import { register } from 'tsx/esm/api';

register();
await import('./large-sender.ts');
