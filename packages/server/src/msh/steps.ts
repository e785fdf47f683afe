/**
 * The steps of a sent message's timeline (`GET /messages/{id}` events, `ehmi track`): the EDS step numbers of
 * ehmi-core §1.2 (docs/specs/ehmi-core.md) that this MSH records, each with what it means here; the event's outcome
 * says whether it went well (03.2 failure: the AP gave up; 10.1 failure: a ReceiptException or no receipt in time).
 * 04–09 and 11–14 happen on the receiver's side; 16.1 (the EUA finalized) is not recorded.
 */
export const TIMELINE_STEPS = {
  '01.1': 'EUA submitted',
  '02.1': 'MSH wrapped (ehmiSBDH)',
  '02.2': 'MSH handed to AP',
  '03.1': 'AP took over',
  '03.2': 'AP sent over AS4',
  '10.1': "receiver's EnvelopeReceipt",
  '15.1': "receiver's Acknowledgement",
} as const;

export type TimelineStep = keyof typeof TIMELINE_STEPS;

/** What a step code means (the code itself when it is not one of ours, e.g. from a newer server). */
export function stepMeaning(code: string): string {
  return (TIMELINE_STEPS as Record<string, string>)[code] ?? code;
}
