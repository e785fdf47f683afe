export { auditEvent, CPR_SYSTEM, MINLOG_CODE, MINLOG_SYSTEM } from './event.ts';
export { auditRecordOf, REQUEST_ID_HEADER, recordCalls, requestIdOf, type ServerAudit } from './http.ts';
export { AuditLog, type AuditLogOptions, type AuditQuery } from './log.ts';
export { AUDIT_MIGRATIONS } from './migrations.ts';
export { type AuditCaller, type AuditOutcome, type AuditRecord, outcomeOf } from './record.ts';
export { AUDIT_PATH, AUDIT_SCOPE, auditQueryOf, serveAuditSearch } from './search.ts';
export type { AuditEventsTable, AuditStore, AuditTables } from './tables.ts';
