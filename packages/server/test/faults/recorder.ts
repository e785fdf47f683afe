import { appendFileSync, readFileSync } from 'node:fs';

/**
 * What each EUA was told, and what the suite did, one JSON object a line: the checker's only input. `accepted`: the
 * sending MSH answered a submission with 202 (or 200 for a repeat) and this id; `refused`: it answered with a final
 * refusal (4xx); `delivered`: the receiving EUA found this item in its inbox; `fault`: a fault the suite injected;
 * `exit`: a node process ended (`expected` when the suite ended it); `hostile`: the answer to one hostile input.
 */
export type FaultRecord =
  | {
      kind: 'accepted';
      eua: string;
      status: number;
      id: string;
      messageHeaderId: string;
      bundleId: string;
      tries: number;
    }
  | { kind: 'refused'; eua: string; status: number; messageHeaderId: string; reason: string }
  | { kind: 'delivered'; eua: string; itemId: string; messageHeaderId: string; bundleId: string }
  | { kind: 'fault'; fault: string; detail?: string }
  | { kind: 'exit'; org: string; why: string; expected: boolean; log?: string }
  | { kind: 'hostile'; name: string; answer: string; refused: boolean };

export type Stamped = FaultRecord & { at: number };

export class Recorder {
  readonly file: string;
  readonly records: Stamped[] = [];
  readonly #t0 = Date.now();

  constructor(file: string) {
    this.file = file;
  }

  write(record: FaultRecord): void {
    const stamped = { ...record, at: Date.now() - this.#t0 } as Stamped;
    this.records.push(stamped);
    appendFileSync(this.file, `${JSON.stringify(stamped)}\n`);
  }

  /** Message header ids the sending EUA was told were accepted. */
  accepted(): Set<string> {
    return new Set(this.records.flatMap((r) => (r.kind === 'accepted' ? [r.messageHeaderId] : [])));
  }

  /** Message header ids the receiving EUA found in its inbox. */
  delivered(): Set<string> {
    return new Set(this.records.flatMap((r) => (r.kind === 'delivered' ? [r.messageHeaderId] : [])));
  }
}

export function readRecords(file: string): Stamped[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Stamped);
}
