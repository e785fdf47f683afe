// The same corpus through the resources the package ships (what `ehmi validate` and validateResource use):
// one version per canonical (messaging 3.0.0, core 2.4.0), so the 4.0.x narrative rule does not apply here.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { shippedValidator } from '../../src/index.ts';
import { CHAINS, examples } from './corpus.ts';

// Real violations, named in corpus.test.ts: EAS Endpoints (GLN system, payloadType codes) and dk-core's Continua
// Bundle (derivedFrom a non-vital-signs Observation under the R4 vitalsigns profile).
const INVALID = new Set([
  'eas/json/Endpoint-EER.EndPoint-Novax.GLNID-5790002288289.json',
  'eas/json/Endpoint-example-endpoint2.json',
  'fhir/examples/dk-core-3.4.0/Bundle-ContinuaBundleWithDevice.json',
]);

for (const folder of Object.keys(CHAINS)) {
  test(`${folder}: every example but the named invalid ones is valid with the shipped resources`, () => {
    const wrong: string[] = [];
    for (const ex of examples(folder)) {
      const name = `${folder}/${ex.file}`;
      const errors = shippedValidator()
        .issues(ex.resource)
        .filter((i) => i.severity === 'error');
      if (errors.length > 0 !== INVALID.has(name)) {
        wrong.push(
          `${name}: ${errors.length} error(s) ${errors[0] ? `${errors[0].expression}: ${errors[0].message}` : ''}`,
        );
      }
    }
    assert.deepEqual(wrong, []);
  });
}
