// Verifies a saved, signed AS4 message with the published @ehmi/as4 package: plain `node`, no tsx, no TypeScript.
// Run it where @ehmi/as4 is installed from its npm tarball (test/packaging/pack.test.ts does):
//   node check-receipt.mjs <message.as4in>
// Prints the check result as JSON; exits 0 when the signature and every reference verified, 1 otherwise.
import { readFileSync } from 'node:fs';
import { checkAs4Message, splitAs4File } from '@ehmi/as4';

const file = process.argv[2];
if (!file) {
  console.error('usage: node check-receipt.mjs <message.as4in>');
  process.exit(2);
}
const bytes = readFileSync(file);
const { contentType } = splitAs4File(bytes);
const result = await checkAs4Message(bytes);
console.log(
  JSON.stringify(
    {
      resolved: import.meta.resolve('@ehmi/as4'),
      contentType,
      valid: result.valid,
      kind: result.kind,
      messageId: result.messageId,
      signer: result.signer?.subject.replace(/\n/g, ', '),
      signatureMethod: result.signatureMethod,
      references: result.references.map((r) => `${r.ok ? 'ok' : 'FAILED'} ${r.uri} (${r.target})`),
      ...(result.valid ? {} : { errorCode: result.errorCode, reason: result.reason }),
    },
    null,
    2,
  ),
);
process.exit(result.valid ? 0 : 1);
