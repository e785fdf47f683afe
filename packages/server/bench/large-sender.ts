// The sending node of the end-to-end benchmark's large payload, in its own process: starts the node from
// EHMI_TEST_NODE_CONFIG, hands the file EHMI_BENCH_LARGE_FILE to its access point's gateway (as the MSH would an
// envelope), waits until the AP has sent it (the receiving AP stored it and its receipt came back), and prints
// `done {"seconds":…,"peakRssMiB":…,"cpuMs":…}` (its own peak resident set, VmHWM; its CPU time while sending, all
// threads), then exits.
import { randomUUID } from 'node:crypto';
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { PROCESS_ID } from '@ehmi/sbdh';
import pino from 'pino';
import { startNode } from '../src/node.ts';
import { configSchema } from '../src/role-list.ts';

const config = configSchema.parse(JSON.parse(process.env.EHMI_TEST_NODE_CONFIG ?? '{}'));
const file = process.env.EHMI_BENCH_LARGE_FILE!;
const node = await startNode(config, pino({ level: config.log.level }, process.stderr));
const submissionId = randomUUID();
const t0 = performance.now();
const cpu0 = process.cpuUsage();
const startRssMiB = process.memoryUsage.rss() / 1024 / 1024;
await node.accessPoint!.gateway.submit({
  submissionId,
  sender: process.env.EHMI_BENCH_LARGE_SENDER!,
  receiver: process.env.EHMI_BENCH_LARGE_RECEIVER!,
  documentType: process.env.EHMI_BENCH_LARGE_DOCUMENT_TYPE ?? 'urn:ehmi:bench:large-payload',
  process: PROCESS_ID,
  envelope: { size: statSync(file).size, open: () => createReadStream(file) },
});
let failure: string | undefined;
for (;;) {
  const r = await node.store.db
    .selectFrom('ap_outbound')
    .select(['status', 'reason'])
    .where('submission_id', '=', submissionId)
    .executeTakeFirst();
  if (r?.status === 'failed') {
    failure = r.reason ?? 'failed';
    break;
  }
  if (r?.status === 'sent') break;
  await new Promise((resolve) => setTimeout(resolve, 100));
}
const seconds = (performance.now() - t0) / 1000;
const used = process.cpuUsage(cpu0);
const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
await node.close();
process.stdout.write(
  `done ${JSON.stringify({ seconds, peakRssMiB: hwm ? Number(hwm[1]) / 1024 : null, cpuMs: (used.user + used.system) / 1000, startRssMiB, ...(failure ? { failure } : {}) })}\n`,
);
process.exit(0);
