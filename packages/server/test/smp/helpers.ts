import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Credential, createCertificateAuthority, issueCertificate } from '@ehmi/pki';
import pino from 'pino';
import { roleContext } from '../../src/node.ts';
import type { NodeTables } from '../../src/role-list.ts';
import { type ConfigInput, configSchema } from '../../src/role-list.ts';
import { createSmpRole, type SmpRole } from '../../src/smp/index.ts';
import { smpRole } from '../../src/smp/role.ts';
import { JobQueue, type Store } from '../../src/store/index.ts';

export const TOKEN = 'test-admin-token-0123456789';
export const ZONE = 'sml.ehmi.test';
export const RECEIVER = '0088:5790000121526';
export const OTHER = '0088:5790000201389';
export const SDN = 'urn:ehmi:sdn-emergence';
export const HCO_CURRENT =
  'urn:dk:healthcare:medcom:messaging:fhir:structuredefinition::homecareobservation-message##urn:dk:medcom:fhir:homecareobservation-message::1.2';
export const HCO_LEGACY =
  'urn:dk:healthcare:medcom:messaging:fhir:structuredefinition:homecareobservation-message:1.2';
export const AP_URL = 'https://127.0.0.1:8711/as4';

export interface SmpTestPki {
  root: Credential;
  smp: Credential;
  ap: Credential;
  rogueRoot: Credential;
  /** An SMP certificate from the CA nobody trusts (files rogue.pem, rogue.key). */
  rogueSmp: Credential;
  /** PEM files of the SMP's signing credential. */
  dir: string;
  cleanup(): void;
}

const notBefore = new Date('2025-01-01T00:00:00Z');
const notAfter = new Date('2035-01-01T00:00:00Z');

let pki: Promise<SmpTestPki> | undefined;

/** A root CA, the SMP's signing certificate, an AP certificate, and a CA nobody trusts; made once per process. */
export function smpTestPki(): Promise<SmpTestPki> {
  pki ??= (async () => {
    const [root, rogueRoot] = await Promise.all([
      createCertificateAuthority({ subject: 'CN=EHMI Test SMP CA, O=EHMI Test, C=DK', notBefore, notAfter }),
      createCertificateAuthority({ subject: 'CN=Rogue CA, O=Nobody, C=XX', notBefore, notAfter }),
    ]);
    const [smp, ap, rogueSmp] = await Promise.all([
      issueCertificate(root, {
        subject: 'CN=SMP ehmi-local, O=EHMI Test, C=DK',
        purposes: ['signing'],
        notBefore,
        notAfter,
      }),
      issueCertificate(root, {
        subject: 'CN=AP 5790000121526, O=EHMI Test, C=DK',
        purposes: ['signing', 'encryption'],
        notBefore,
        notAfter,
      }),
      issueCertificate(rogueRoot, {
        subject: 'CN=SMP ehmi-local, O=EHMI Test, C=DK',
        purposes: ['signing'],
        notBefore,
        notAfter,
      }),
    ]);
    const dir = mkdtempSync(join(tmpdir(), 'ehmi-smp-'));
    writeFileSync(join(dir, 'smp.pem'), smp.certificatePem);
    writeFileSync(join(dir, 'smp.key'), smp.privateKeyPem);
    writeFileSync(join(dir, 'root.pem'), root.certificatePem);
    writeFileSync(join(dir, 'rogue.pem'), rogueSmp.certificatePem);
    writeFileSync(join(dir, 'rogue.key'), rogueSmp.privateKeyPem);
    return {
      root,
      smp,
      ap,
      rogueRoot,
      rogueSmp,
      dir,
      cleanup: () => rmSync(dir, { recursive: true, force: true }),
    };
  })();
  return pki;
}

/** The smp role on a test store: HTTP and DNS on free loopback ports. */
export async function startSmp(
  store: Store<NodeTables>,
  pki: SmpTestPki,
  smp: ConfigInput['smp'] = {},
): Promise<SmpRole> {
  // Without authorization (the admin API then takes the static token): the insecure development switch.
  const config = configSchema.parse({
    dataDir: '/nonexistent',
    insecure: true,
    log: { level: 'silent' },
    smp: {
      enabled: true,
      port: 0,
      signing: { cert: join(pki.dir, 'smp.pem'), key: join(pki.dir, 'smp.key') },
      adminToken: TOKEN,
      ...smp,
      dns: { enabled: true, port: 0, zone: ZONE, ttlSeconds: 5, ...(smp?.dns ?? {}) },
    },
  });
  const logger = pino({ level: 'silent' });
  const role = await createSmpRole(
    roleContext(smpRole, { config, store, queue: new JobQueue(store, config.queue), logger }),
  );
  await role.start();
  return role;
}
