import { EhmiError } from '@ehmi/errors';
import {
  buildJourney,
  collectJourneyEvents,
  type EdsSearch,
  type Journey,
  type JourneyThresholds,
} from '@ehmi/sbdh';
import type { Selectable } from 'kysely';
import type { MshCore } from './core.ts';
import { findInboxItem } from './repository.ts';
import type { MshMessagesTable } from './tables.ts';

/** What the MSH needs to answer `GET /messages/{id}/journey`: EDS (node `deliveryStatus`) and its thresholds. */
export interface JourneySource {
  search: EdsSearch;
  due: JourneyThresholds;
}

/** Where journeys are read; a node that names no EDS has none to offer (`EHMI_UNAVAILABLE`, 503). */
export function journeySource(core: MshCore): JourneySource {
  if (!core.journey) {
    throw new EhmiError(
      'EHMI_UNAVAILABLE',
      "this node names no EDS (deliveryStatus.url): a message's journey is read from EHMI Delivery Status",
    );
  }
  return core.journey;
}

/**
 * The journey of one of this MSH's sent messages across the network, from EDS (docs/architecture.md
 * "Track'n'trace"), read with the node's own token: EDS knows the message by its MessageHeader.id (a payload's by
 * the SBDH InstanceIdentifier of its first envelope, which its MESSAGEIDENTIFIER defaults to), the journey answers
 * with the tracking id. No EDS configured, or EDS unreachable: `EHMI_UNAVAILABLE` (503).
 */
export async function messageJourney(core: MshCore, row: Selectable<MshMessagesTable>): Promise<Journey> {
  const source = core.journey;
  if (!source) {
    throw new EhmiError(
      'EHMI_UNAVAILABLE',
      "this node names no EDS (deliveryStatus.url): a message's journey is read from EHMI Delivery Status",
    );
  }
  // An acknowledgement this MSH sent travels as steps 11.1–20.1 of the message it acknowledges: its journey is
  // that message's, which this MSH received (the inbox item it acknowledged).
  if (row.kind === 'acknowledgement' && row.inbox_id !== null) {
    const item = await findInboxItem(core.store.db, row.inbox_id);
    if (item?.message_header_id) {
      const events = await collectJourneyEvents(item.message_header_id, source.search);
      return buildJourney(item.message_header_id, events, {
        now: new Date(core.now()),
        id: row.id,
        thresholds: source.due,
        acknowledgement: true,
      });
    }
  }
  const messageId = row.message_header_id ?? row.envelope_id;
  const events = await collectJourneyEvents(messageId, source.search);
  return buildJourney(messageId, events, {
    now: new Date(core.now()),
    id: row.id,
    start: new Date(row.created_at),
    thresholds: source.due,
    acknowledgement: row.ack_due !== null || row.ack_code !== null,
  });
}
