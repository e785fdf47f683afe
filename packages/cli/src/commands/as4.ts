import { createHash, createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type {
  As4CheckResult,
  As4MessageSummary,
  CheckedReference,
  DecryptedAs4Message,
  Party,
} from '@ehmi/as4';
import { asEhmiError, EBMS_ERRORS, EhmiError, EXIT, isEbmsErrorCode } from '@ehmi/errors';
import type { Command } from 'commander';
import { type CliContext, writeLine } from '../context.ts';
import { readInputFile } from './read-input.ts';

interface VerifyFlags {
  cert?: string;
  key?: string;
  strict?: boolean;
  config?: string;
  json?: boolean;
}

interface DecryptFlags {
  key: string;
  out?: string;
  json?: boolean;
}

/**
 * `ehmi as4 verify|decrypt|inspect FILE`: check, decrypt and summarise a saved AS4 message — ours or another
 * implementation's (AS4.NET, Holodeck B2B, phase4, Domibus) — as the `@ehmi/as4` functions checkAs4Message,
 * decryptAs4Message and inspectAs4Message do. FILE is a MIME message or a SOAP envelope, with HTTP headers on top
 * or not. A bare SOAP envelope whose signed attachments are not in the file (the SOAP part an access point keeps as
 * evidence, `ehmi evidence`) verifies on what it holds (SignedInfo, eb:Messaging, Body, Timestamp); its attachment
 * references are listed as "signed digest, attachment not kept". Exit 0 when valid; 1 when the message fails (the ebMS error code and the reason are printed), or when an
 * encrypted message is verified without --key (incomplete, not valid); 2 when FILE cannot be read or is not an AS4
 * message, and for bad arguments.
 */
export function registerAs4(program: Command, ctx: CliContext): void {
  const as4 = program
    .command('as4')
    .description("check, decrypt and inspect saved AS4 messages (also other implementations')");

  as4
    .command('verify')
    .description(
      'check the WS-Security signature and every reference of an AS4 message (algorithms as WSS4J accepts them); a kept SOAP part (ehmi evidence) verifies without its attachments',
    )
    .argument('<file>', 'the message: MIME or a SOAP envelope, HTTP headers on top allowed')
    .option(
      '--cert <pem>',
      "the signer's certificate: IssuerSerial/SKI references resolve to it, it must sign",
    )
    .option(
      '--key <pem>',
      'our private key: decrypt the encrypted parts, check their references over the plaintext',
    )
    .option(
      '--strict',
      "also check the wsu:Timestamp against the clock and the signer against the configuration's ap.trustAnchors",
    )
    .option('--config <file>', 'configuration file for --strict (default EHMI_CONFIG)')
    .option('--json', 'print one JSON object')
    .action(async (file: string, flags: VerifyFlags) => {
      const { checkAs4Message } = await import('@ehmi/as4');
      const bytes = await readInputFile(ctx, file);
      const certificate = flags.cert ? await readCertificate(ctx, flags.cert, '--cert') : undefined;
      const privateKey = flags.key ? await readKey(ctx, flags.key) : undefined;
      const trust = flags.strict ? await strictTrust(ctx, flags.config) : undefined;
      const result = await checkAs4Message(bytes, {
        ...(certificate ? { certificate } : {}),
        ...(privateKey ? { privateKey } : {}),
        ...(trust ? { trust, timestampWindow: true } : {}),
      });
      if (flags.json) writeLine(ctx.stdout, JSON.stringify({ file, ...result }));
      else printVerify(ctx, result, flags);
      ctx.exitCode = result.valid ? EXIT.ok : EXIT.failed;
    });

  as4
    .command('decrypt')
    .description(
      'decrypt (and decompress, per PartInfo CompressionType) the encrypted parts; one line per part: Content-ID, octets, SHA-256',
    )
    .argument('<file>', 'the message: MIME, HTTP headers on top allowed')
    .requiredOption('--key <pem>', 'our private key (the EncryptedKey is addressed to its certificate)')
    .option(
      '--out <dir>',
      'where the parts go, one file per Content-ID (default ./<message-id>/); never overwritten',
    )
    .option('--json', 'print one JSON object')
    .action(async (file: string, flags: DecryptFlags) => {
      const { decryptAs4Message } = await import('@ehmi/as4');
      const bytes = await readInputFile(ctx, file);
      const privateKey = await readKey(ctx, flags.key);
      let message: DecryptedAs4Message;
      try {
        message = await decryptAs4Message(bytes, { privateKey });
      } catch (err) {
        const e = asEhmiError(err);
        if (e.exitCode !== EXIT.failed || e.code === 'EHMI_INTERNAL') throw err;
        failWith(ctx, e, flags.json);
        return;
      }
      try {
        const dir = resolve(ctx.cwd, flags.out ?? safeName(message.messageId ?? 'as4-message'));
        // Paths are printed as the user gave them: an absolute --out stays absolute.
        const shown = (path: string) => (isAbsolute(flags.out ?? '') ? path : relative(ctx.cwd, path) || '.');
        const targets = fileNames(message.parts.map((p) => p.contentId)).map((n) => join(dir, n));
        await mkdir(dir, { recursive: true });
        for (const target of targets) {
          if (await exists(target)) {
            throw new EhmiError('EHMI_USAGE', `${shown(target)} exists: not overwritten (use another --out)`);
          }
        }
        const written: {
          contentId: string;
          file: string;
          size: number;
          sha256: string;
          contentType?: string;
        }[] = [];
        for (const [i, part] of message.parts.entries()) {
          const { size, sha256 } = await writePart(part.attachment.open(), targets[i]!);
          const contentType = part.attachment.headers['content-type'];
          written.push({
            contentId: part.contentId,
            file: targets[i]!,
            size,
            sha256,
            ...(contentType ? { contentType } : {}),
          });
          if (!flags.json) writeLine(ctx.stdout, `${part.contentId}\t${size}\t${sha256}`);
        }
        if (flags.json)
          writeLine(ctx.stdout, JSON.stringify({ file, messageId: message.messageId, dir, parts: written }));
        else writeLine(ctx.stderr, `${written.length} part(s) written to ${shown(dir)}`);
      } finally {
        await message.dispose();
      }
    });

  as4
    .command('inspect')
    .description('print the ebMS header, the parts and what the Security header uses (nothing is verified)')
    .argument('<file>', 'the message: MIME or a SOAP envelope, HTTP headers on top allowed')
    .option('--json', 'print one JSON object')
    .action(async (file: string, flags: { json?: boolean }) => {
      const { inspectAs4Message } = await import('@ehmi/as4');
      const bytes = await readInputFile(ctx, file);
      let summary: As4MessageSummary;
      try {
        summary = await inspectAs4Message(bytes);
      } catch (err) {
        const e = asEhmiError(err);
        if (e.exitCode !== EXIT.failed || e.code === 'EHMI_INTERNAL') throw err;
        failWith(ctx, e, flags.json);
        return;
      }
      if (flags.json) writeLine(ctx.stdout, JSON.stringify({ file, ...summary }));
      else printInspect(ctx, summary);
    });
}

/** An ebMS failure outside `verify`: exit 1, the code and the reason on stderr (or as JSON on stdout). */
function failWith(ctx: CliContext, e: EhmiError, json: boolean | undefined): void {
  if (json) writeLine(ctx.stdout, JSON.stringify({ errorCode: e.ebmsCode, code: e.code, reason: e.message }));
  else writeLine(ctx.stderr, `ehmi: ${ebms(e.ebmsCode)}: ${e.message}`);
  ctx.exitCode = EXIT.failed;
}

/** `EBMS:0101 FailedAuthentication`. */
function ebms(code: string | undefined): string {
  if (code === undefined) return 'error';
  return isEbmsErrorCode(code) ? `${code} ${EBMS_ERRORS[code].shortDescription}` : code;
}

/** The fragment of an algorithm URI (`…#rsa-sha384` → `rsa-sha384`). */
function alg(uri: string | undefined): string {
  if (!uri) return '?';
  const hash = uri.lastIndexOf('#');
  return hash >= 0 ? uri.slice(hash + 1) : uri;
}

async function readCertificate(ctx: CliContext, file: string, flag: string): Promise<X509Certificate> {
  const pem = await readInputFile(ctx, file);
  try {
    return new X509Certificate(pem);
  } catch (err) {
    throw new EhmiError('EHMI_USAGE', `${flag} ${file} is not a PEM or DER certificate`, { cause: err });
  }
}

async function readKey(ctx: CliContext, file: string): Promise<KeyObject> {
  const pem = await readInputFile(ctx, file);
  try {
    return createPrivateKey(pem);
  } catch (err) {
    throw new EhmiError('EHMI_USAGE', `--key ${file} is not an unencrypted PEM private key`, { cause: err });
  }
}

/**
 * --strict: the signer must chain to a trust anchor of the node's configuration (`ap.trustAnchors`, loaded as
 * `ehmi up` loads it), as the access point requires of a sender. No anchors configured → a usage error.
 */
async function strictTrust(ctx: CliContext, configFile: string | undefined) {
  const { loadConfig } = await import('@ehmi/server/config');
  const { checkCertificateTrust } = await import('@ehmi/pki');
  const config = loadConfig({ file: configFile, env: ctx.env, cwd: ctx.cwd });
  if (config.ap.trustAnchors.length === 0) {
    throw new EhmiError(
      'EHMI_USAGE',
      '--strict checks the signer against ap.trustAnchors, and the configuration names none (--config FILE or EHMI_CONFIG)',
    );
  }
  const anchors: X509Certificate[] = [];
  for (const f of config.ap.trustAnchors) {
    let pem: Buffer;
    try {
      pem = await readFile(resolve(ctx.cwd, f));
    } catch (err) {
      throw new EhmiError('EHMI_CONFIG_INVALID', `ap.trustAnchors: cannot read ${f}`, { cause: err });
    }
    try {
      anchors.push(new X509Certificate(pem));
    } catch (err) {
      throw new EhmiError('EHMI_CONFIG_INVALID', `ap.trustAnchors: ${f} is not a PEM certificate`, {
        cause: err,
      });
    }
  }
  return (chain: X509Certificate[]) => {
    checkCertificateTrust(chain[0]!, {
      trustAnchors: anchors,
      intermediates: chain.slice(1),
      what: "signer's certificate",
      errorCode: 'EHMI_AS4_FAILED_AUTHENTICATION',
    });
    return true;
  };
}

function printVerify(ctx: CliContext, r: As4CheckResult, flags: VerifyFlags): void {
  const out = (line: string) => writeLine(ctx.stdout, line);
  if (r.valid) out('valid');
  else if (!r.complete) out(`incomplete: ${r.reason} (give it with --key)`);
  else {
    const hint =
      r.reasonCode === 'key-info' && !flags.cert
        ? " (the signature names its certificate by reference: give the signer's certificate with --cert)"
        : '';
    out(`invalid: ${ebms(r.errorCode)}: ${r.reason}${hint}`);
  }
  if (r.messageId) out(`message:   ${r.messageId} (${r.kind})`);
  if (r.signer) {
    out(
      `signer:    ${r.signer.subject} (issuer ${r.signer.issuer}, serial ${r.signer.serialNumber}) by ${r.tokenReference}, ${alg(r.signatureMethod)}`,
    );
  }
  for (const ref of r.references) {
    const what = ref.note === 'not kept' ? 'signed digest, attachment not kept' : ref.target;
    out(`${status(ref).padEnd(10)} ${ref.uri}${what ? ` (${what})` : ''}`);
  }
  for (const d of r.decrypted) {
    out(
      `decrypted  cid:${d.contentId}${d.size !== undefined ? ` (${d.size} octets${d.contentType ? `, ${d.contentType}` : ''})` : ''}`,
    );
  }
}

function status(ref: CheckedReference): string {
  if (ref.ok === true) return 'ok';
  if (ref.ok === null) return ref.note === 'encrypted' || ref.note === 'not kept' ? ref.note : 'unchecked';
  return ref.note === 'missing' ? 'missing' : 'FAILED';
}

function party(p: Party | undefined): string {
  if (!p) return '';
  const ids = p.partyIds.map((id) => (id.type ? `${id.value} (type ${id.type})` : id.value)).join(', ');
  return `${ids}, role ${p.role}`;
}

function printInspect(ctx: CliContext, s: As4MessageSummary): void {
  const lines: [string, string | undefined][] = [
    ['kind', `${s.kind} (SOAP ${s.soapVersion})`],
    ['message id', s.messageId],
    ['timestamp', s.timestamp],
    ['ref to', s.refToMessageId],
    ['mpc', s.mpc],
    ['from', s.from && party(s.from)],
    ['to', s.to && party(s.to)],
    [
      'service',
      s.service && (s.service.type ? `${s.service.value} (type ${s.service.type})` : s.service.value),
    ],
    ['action', s.action],
    ['conversation', s.conversationId],
    [
      'agreement',
      s.agreement &&
        [
          s.agreement.value,
          s.agreement.type && `type ${s.agreement.type}`,
          s.agreement.pmode && `pmode ${s.agreement.pmode}`,
        ]
          .filter(Boolean)
          .join(', '),
    ],
    ['original sender', s.originalSender],
    ['final recipient', s.finalRecipient],
  ];
  for (const p of s.properties) {
    if (p.name === 'originalSender' || p.name === 'finalRecipient') continue;
    lines.push(['property', `${p.name} = ${p.value}${p.type ? ` (type ${p.type})` : ''}`]);
  }
  for (const p of s.parts) {
    const props = p.properties.map((x) => `${x.name}=${x.value}`).join(', ');
    const carried = [
      p.contentType,
      p.size !== undefined ? `${p.size} octets` : undefined,
      p.encrypted ? 'encrypted' : undefined,
    ]
      .filter(Boolean)
      .join(', ');
    lines.push([
      'part',
      `${p.href ?? '(Body)'}${props ? ` ${props}` : ''}${carried ? `; carried ${carried}` : ''}`,
    ]);
  }
  for (const e of s.errors) {
    lines.push([
      'error',
      `${e.errorCode} ${e.severity} ${e.shortDescription ?? ''}${e.description ? `: ${e.description}` : ''}${e.refToMessageInError ? ` (ref ${e.refToMessageInError})` : ''}`,
    ]);
  }
  if (s.receipt) {
    lines.push([
      'receipt',
      s.receipt.nonRepudiation
        ? `non-repudiation, ${s.receipt.references} reference(s)`
        : 'reception awareness (UserMessage echo)',
    ]);
  }
  const sig = s.security.signature;
  lines.push([
    'signed',
    sig
      ? `yes: ${alg(sig.method)}, digests ${sig.digestMethods.map(alg).join(', ')}, key by ${sig.keyReference}, ${sig.references.length} reference(s)`
      : 'no',
  ]);
  if (sig?.certificate) {
    lines.push([
      'certificate',
      `${sig.certificate.subject} (issuer ${sig.certificate.issuer}, serial ${sig.certificate.serialNumber})`,
    ]);
  }
  if (s.security.timestamp) {
    lines.push([
      'wsu timestamp',
      `created ${s.security.timestamp.created ?? '?'}, expires ${s.security.timestamp.expires ?? '-'}`,
    ]);
  }
  const enc = s.security.encryption;
  lines.push([
    'encrypted',
    enc
      ? `yes: ${[
          ...enc.keys.map(
            (k) =>
              `key ${alg(k.algorithm)}${k.digest ? ` digest ${alg(k.digest)}` : ''}${k.mgf ? ` MGF ${alg(k.mgf)}` : ''} by ${k.keyReference}`,
          ),
          ...[...new Set(enc.data.map((d) => `${alg(d.algorithm)} ${d.type}`))].map(
            (what) =>
              `${enc.data.filter((d) => `${alg(d.algorithm)} ${d.type}` === what).length} part(s) ${what}`,
          ),
        ].join('; ')}`
      : 'no',
  ]);
  const width = Math.max(...lines.map(([k]) => k.length)) + 1;
  for (const [k, v] of lines)
    if (v !== undefined && v !== '') writeLine(ctx.stdout, `${`${k}:`.padEnd(width)} ${v}`);
}

/** A Content-ID or MessageId as a file name: safe characters only, never empty, `.` or `..`, at most 200 long. */
export function safeName(value: string): string {
  const name = value
    .replace(/[^A-Za-z0-9._@+=-]/g, '_')
    .replace(/^\.+/, '_')
    .slice(0, 200);
  return name === '' ? '_' : name;
}

/** One safe, distinct (also case-insensitively) file name per Content-ID. */
function fileNames(contentIds: readonly string[]): string[] {
  const seen = new Set<string>();
  return contentIds.map((id, i) => {
    const base = safeName(id) || `part-${i + 1}`;
    let name = base;
    for (let n = 2; seen.has(name.toLowerCase()); n++) name = `${base}-${n}`;
    seen.add(name.toLowerCase());
    return name;
  });
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Streams a part into a new file (`wx`: an existing file is an error, not overwritten), hashing it on the way. */
async function writePart(
  source: NodeJS.ReadableStream,
  path: string,
): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  let size = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  await pipeline(source, tap, createWriteStream(path, { flags: 'wx' }));
  return { size, sha256: hash.digest('hex') };
}
