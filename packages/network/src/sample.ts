import { EhmiError } from '@ehmi/errors';
import { buildHomeCareObservationMessage } from '@ehmi/fhir';
import type { ManifestOrganisation } from './manifest.ts';
import { LOCAL_ORGANISATIONS } from './organisations.ts';

type Bundle = ReturnType<typeof buildHomeCareObservationMessage>;

/** CPR of the patient of the sample prøvesvar (MedCom's example patient); EAS's local table gives the GP for it. */
export const SAMPLE_PATIENT_CPR = '2509479989';

/** Title and ydernummer as network.json has them; a manifest written before it had them: the built-in network's. */
function extras(org: ManifestOrganisation): { title?: string; ydernummer?: string } {
  const spec = org.title ? org : LOCAL_ORGANISATIONS.find((s) => s.gln === org.gln);
  return spec
    ? {
        ...(spec.title ? { title: spec.title } : {}),
        ...(spec.ydernummer ? { ydernummer: spec.ydernummer } : {}),
      }
    : {};
}

/**
 * A "kommunale prøvesvar" (MedCom HomeCareObservation 1.2.1) from one organisation of the network to another,
 * with fresh Bundle and MessageHeader ids: the message `ehmi send homecareobservation` submits. Patient and values
 * are those of MedCom's own example (Bundle-401cbc36…), measured now.
 *
 * @throws EhmiError `EHMI_USAGE` when the receiver is not a GP practice (MedComRequesterOrganization needs a
 * ydernummer).
 */
export function sampleHomeCareObservation(
  from: ManifestOrganisation,
  to: ManifestOrganisation,
  now: Date = new Date(),
): Bundle {
  const sender = extras(from);
  const receiver = extras(to);
  if (!receiver.ydernummer) {
    throw new EhmiError(
      'EHMI_USAGE',
      `a prøvesvar goes to the GP practice that asked for it; ${to.name} has no ydernummer (MedComRequesterOrganization), send it to a gp`,
    );
  }
  const effective = new Date(now.getTime() - 15 * 60_000).toISOString();
  return buildHomeCareObservationMessage(
    {
      sender: { gln: from.gln, sor: from.sor, ...(sender.title ? { name: sender.title } : {}) },
      receiver: {
        gln: to.gln,
        sor: to.sor,
        ydernummer: receiver.ydernummer,
        requesterInitials: 'OKM',
        ...(receiver.title ? { name: receiver.title } : {}),
      },
      patient: { cpr: SAMPLE_PATIENT_CPR, family: 'Elmer', given: ['Bruno'] },
      practitioner: { given: ['Mia'], family: 'Nielsen', phone: '+45 05577668' },
      observations: [
        {
          code: 'NPU19748',
          display: 'P—C-reaktivt protein; massek. = ? mg/L',
          value: { quantity: 26, unit: 'mg/L', ucum: 'mg/L' },
          effective,
        },
      ],
    },
    { now: () => now },
  );
}
