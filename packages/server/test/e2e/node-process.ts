// One EHMI node in its own process, for the tests that kill a node mid-flight. The complete config comes as JSON in
// EHMI_TEST_NODE_CONFIG; the process prints `ready <urls JSON>` when it serves, and closes cleanly on SIGTERM.
import pino from 'pino';
import { startNode } from '../../src/node.ts';
import { configSchema } from '../../src/role-list.ts';

const config = configSchema.parse(JSON.parse(process.env.EHMI_TEST_NODE_CONFIG ?? '{}'));
const node = await startNode(config, pino({ level: config.log.level }, process.stderr));
process.stdout.write(`ready ${JSON.stringify(node.urls)}\n`);
process.once('SIGTERM', () => {
  void node.close().then(() => process.exit(0));
});
