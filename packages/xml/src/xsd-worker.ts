import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { EhmiError } from '@ehmi/errors';

/** A file as xmllint sees it (in its in-memory file system). */
export interface XsdFile {
  fileName: string;
  contents: string;
}

/** What one xmllint run printed and how it ended (0 valid, 3 or 4 invalid, anything else a failure). */
export interface XsdRun {
  exitCode: number;
  stderr: string;
}

/** The schema files a run needs, by identity of the set: sent to the worker once. */
interface SchemaFiles {
  readonly entry: string;
  readonly files: readonly XsdFile[];
}

// The worker: xmllint-wasm's Emscripten program, compiled once; each run instantiates it afresh (a new memory, so no
// state leaks from one run to the next) and runs `xmllint --schema <entry> --noout <documents>`. Plain CommonJS
// evaluated as a string, so it runs the same from the TypeScript sources and from dist/, with or without tsx.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { readFileSync } = require('node:fs');
const factory = require(workerData.script);
const compiled = new WebAssembly.Module(readFileSync(workerData.wasm));
const sets = new Map();
parentPort.on('message', (m) => {
  if (!m || m.ehmiXsd !== true) return;
  if (m.set) {
    sets.set(m.set.id, m.set.files);
    return;
  }
  let stderr = '';
  let posted = false;
  const post = (exitCode) => {
    if (posted) return;
    posted = true;
    process.exitCode = 0;
    parentPort.postMessage({ ehmiXsd: true, id: m.id, exitCode, stderr });
  };
  Promise.resolve()
    .then(() =>
      factory({
        inputFiles: [...m.documents, ...sets.get(m.setId)],
        arguments: ['--schema', m.entry, '--noout', ...m.documents.map((d) => d.fileName)],
        print() {},
        printErr(text) {
          stderr += text + '\\n';
        },
        onExit: post,
        onAbort(reason) {
          stderr += 'WASM Abort: ' + reason + '\\n';
          post(-1);
        },
        wasmMemory: new WebAssembly.Memory({ initial: 256, maximum: m.maxMemoryPages }),
        instantiateWasm(imports, done) {
          WebAssembly.instantiate(compiled, imports).then(
            (instance) => done(instance, compiled),
            (err) => {
              stderr += String(err) + '\\n';
              post(-1);
            },
          );
          return {};
        },
      }),
    )
    .catch((err) => {
      if (!(err && err.name === 'ExitStatus')) stderr += String(err && err.stack || err) + '\\n';
      post(-1);
    });
});
`;

/** 1 GiB: the most memory one xmllint run may grow to (64 KiB pages). */
const MAX_MEMORY_PAGES = 16 * 1024;

/**
 * One long-lived worker thread running xmllint (libxml2 compiled to WebAssembly) for this process. xmllint-wasm's own
 * `validateXML` starts and terminates a Worker, and compiles the WebAssembly, for every call; here the thread and the
 * compiled module are kept, and each schema set's files are sent to it once. Runs are independent (a fresh
 * WebAssembly instance each). The thread does not keep the process alive while idle; if it dies, the runs in flight
 * fail and the next run starts a new one.
 */
export class XsdWorker {
  #worker: Worker | undefined;
  #known = new Set<number>();
  #pending = new Map<number, { resolve: (r: XsdRun) => void; reject: (e: unknown) => void }>();
  #nextId = 1;
  #setIds = new WeakMap<SchemaFiles, number>();
  #nextSetId = 1;

  run(documents: readonly XsdFile[], set: SchemaFiles): Promise<XsdRun> {
    const worker = this.#start();
    let setId = this.#setIds.get(set);
    if (setId === undefined) {
      setId = this.#nextSetId++;
      this.#setIds.set(set, setId);
    }
    if (!this.#known.has(setId)) {
      worker.postMessage({ ehmiXsd: true, set: { id: setId, files: set.files } });
      this.#known.add(setId);
    }
    const id = this.#nextId++;
    return new Promise<XsdRun>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      if (this.#pending.size === 1) worker.ref();
      worker.postMessage({
        ehmiXsd: true,
        id,
        setId,
        entry: set.entry,
        documents,
        maxMemoryPages: MAX_MEMORY_PAGES,
      });
    });
  }

  /** Stop the thread (runs in flight fail); the next run starts a new one. */
  async close(): Promise<void> {
    const w = this.#worker;
    if (!w) return;
    this.#fail(new EhmiError('EHMI_INTERNAL', 'the XSD validator was closed'));
    await w.terminate();
  }

  #start(): Worker {
    if (this.#worker) return this.#worker;
    const require = createRequire(import.meta.url);
    const script = require.resolve('xmllint-wasm/xmllint-node.js');
    const wasm = require.resolve('xmllint-wasm/xmllint.wasm');
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { script, wasm } });
    worker.unref();
    worker.on('message', (m: { ehmiXsd?: boolean; id: number; exitCode: number; stderr: string }) => {
      if (m?.ehmiXsd !== true) return;
      const p = this.#pending.get(m.id);
      if (!p) return;
      this.#pending.delete(m.id);
      if (this.#pending.size === 0) worker.unref();
      p.resolve({ exitCode: m.exitCode, stderr: m.stderr });
    });
    worker.on('error', (err) => {
      if (this.#worker === worker) this.#fail(err);
    });
    worker.on('exit', (code) => {
      if (this.#worker === worker)
        this.#fail(new EhmiError('EHMI_INTERNAL', `the XSD validator thread exited (${code})`));
    });
    this.#worker = worker;
    return worker;
  }

  #fail(err: unknown): void {
    this.#worker = undefined;
    this.#known.clear();
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.reject(err);
  }
}

let shared: XsdWorker | undefined;

/** The process's XSD validator thread (started on first use). */
export function xsdWorker(): XsdWorker {
  shared ??= new XsdWorker();
  return shared;
}
