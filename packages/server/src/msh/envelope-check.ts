import { type LoadedEnvelope, type ValidationResult, validateMany } from '@ehmi/sbdh';

interface Waiting {
  xml: string | Uint8Array;
  source: string;
  loaded: LoadedEnvelope | undefined;
  resolve: (r: ValidationResult) => void;
  reject: (err: unknown) => void;
}

let waiting: Waiting[] = [];
let running = false;

/**
 * ehmiSBDH validation (XSD + IG rules) batched across concurrent callers: each XSD run instantiates xmllint (in the
 * process's long-lived XSD thread) and compiles the schema set again, so envelopes that arrive while a run is going
 * wait for the next run and share it; each gets only its own errors. `loaded`: the document as `loadEnvelope`
 * read it from `xml`, when the caller has it (it is not read again).
 */
export function validateEnvelope(
  xml: string | Uint8Array,
  source: string,
  loaded?: LoadedEnvelope,
): Promise<ValidationResult> {
  return new Promise((resolve, reject) => {
    waiting.push({ xml, source, loaded, resolve, reject });
    if (!running) setImmediate(flush);
  });
}

async function flush(): Promise<void> {
  if (running || waiting.length === 0) return;
  running = true;
  const batch = waiting.slice(0, 200);
  waiting = waiting.slice(batch.length);
  try {
    const results = await validateMany(
      batch.map((w) =>
        w.loaded ? { xml: w.xml, source: w.source, loaded: w.loaded } : { xml: w.xml, source: w.source },
      ),
    );
    for (const [i, w] of batch.entries()) w.resolve(results[i]!);
  } catch (err) {
    for (const w of batch) w.reject(err);
  } finally {
    running = false;
    if (waiting.length > 0) setImmediate(flush);
  }
}
