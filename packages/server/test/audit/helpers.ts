import pino from 'pino';
import type { ServerAudit } from '../../src/audit/http.ts';
import { AuditLog, type AuditLogOptions } from '../../src/audit/log.ts';
import type { AuditRecord } from '../../src/audit/record.ts';
import type { AnyStore } from '../../src/store/index.ts';

/** An audit log on a test store, as a node makes it (its role servers record into `audit`). */
export function testAudit(
  store: AnyStore,
  options: Partial<AuditLogOptions> = {},
): { log: AuditLog; audit: ServerAudit } {
  const log = new AuditLog(store, { logger: pino({ level: 'silent' }), ...options });
  return { log, audit: { log, node: 'test-node' } };
}

/** Every record the log holds (after writing what is buffered), oldest first. */
export async function allRecords(log: AuditLog): Promise<AuditRecord[]> {
  await log.flush();
  return log.search({ limit: 10_000, newestFirst: false });
}
