import type { FaultRecord } from './recorder.ts';

export interface Verdict {
  accepted: number;
  delivered: number;
  /** Accepted by the sending MSH and never in the receiving inbox (message header ids). */
  lost: string[];
  /** In the receiving inbox more than once (message header ids). */
  duplicated: string[];
  /** In the receiving inbox though no EUA was told it was accepted: a forged or unasked-for delivery. */
  unexpected: string[];
  /** Node processes that ended without the suite ending them, or not cleanly when it asked. */
  unhandled: string[];
  /** Hostile inputs the receiver took as a legitimate message. */
  hostileAccepted: string[];
  hostile: number;
  ok: boolean;
}

/**
 * Compare what the sending EUA was told with what the receiving EUA got: lost = accepted and never delivered,
 * duplicated = delivered twice (two inbox items for one MessageHeader.id, or for one Bundle.id).
 */
export function check(records: readonly FaultRecord[]): Verdict {
  const accepted = new Set<string>();
  const items = new Map<string, Set<string>>();
  const bundles = new Map<string, Set<string>>();
  const unhandled: string[] = [];
  const hostileAccepted: string[] = [];
  let hostile = 0;
  for (const r of records) {
    if (r.kind === 'accepted') accepted.add(r.messageHeaderId);
    else if (r.kind === 'delivered') {
      if (!items.has(r.messageHeaderId)) items.set(r.messageHeaderId, new Set());
      items.get(r.messageHeaderId)!.add(r.itemId);
      if (!bundles.has(r.bundleId)) bundles.set(r.bundleId, new Set());
      bundles.get(r.bundleId)!.add(r.itemId);
    } else if (r.kind === 'exit' && !r.expected) unhandled.push(`${r.org}: ${r.why}`);
    else if (r.kind === 'hostile') {
      hostile++;
      if (!r.refused) hostileAccepted.push(`${r.name}: ${r.answer}`);
    }
  }
  const lost = [...accepted].filter((id) => !items.has(id));
  const duplicated = [
    ...[...items].filter(([, ids]) => ids.size > 1).map(([id]) => id),
    ...[...bundles].filter(([, ids]) => ids.size > 1).map(([id]) => `bundle ${id}`),
  ];
  const unexpected = [...items.keys()].filter((id) => !accepted.has(id));
  return {
    accepted: accepted.size,
    delivered: [...items.keys()].filter((id) => accepted.has(id)).length,
    lost,
    duplicated,
    unexpected,
    unhandled,
    hostileAccepted,
    hostile,
    ok:
      lost.length === 0 &&
      duplicated.length === 0 &&
      unexpected.length === 0 &&
      unhandled.length === 0 &&
      hostileAccepted.length === 0,
  };
}

/** The verdict as the suite prints it. */
export function summary(v: Verdict): string {
  const lines = [
    `accepted ${v.accepted}, delivered ${v.delivered}, lost ${v.lost.length}, duplicated ${v.duplicated.length}, unhandled errors ${v.unhandled.length}`,
  ];
  if (v.unexpected.length > 0) lines.push(`delivered without being accepted: ${v.unexpected.join(', ')}`);
  if (v.hostile > 0)
    lines.push(`hostile inputs ${v.hostile}, taken as legitimate ${v.hostileAccepted.length}`);
  for (const id of v.lost) lines.push(`lost: ${id}`);
  for (const id of v.duplicated) lines.push(`duplicated: ${id}`);
  for (const u of v.unhandled) lines.push(`unhandled: ${u}`);
  for (const h of v.hostileAccepted) lines.push(`hostile input taken: ${h}`);
  return lines.join('\n');
}
