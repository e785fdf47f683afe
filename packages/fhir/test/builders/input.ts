import type { HomeCareObservationInput } from '../../src/index.ts';

/** A HomeCareObservation input modelled on MedCom's example Bundle 401cbc36 (dk_HomeCareObservations 1.2.1). */
export function sampleInput(): HomeCareObservationInput {
  return {
    sender: { sor: '1144561000016002', gln: '5790000123117', name: 'Pleje og Rehabilitering' },
    receiver: {
      sor: '52581000016005',
      gln: '5790000127092',
      ydernummer: '061654',
      name: 'Skødstrup Lægepraksis',
      requesterInitials: 'O.K.M.',
    },
    patient: { cpr: '2509479989', family: 'Elmer', given: ['Bruno'] },
    practitioner: { given: ['Mia'], phone: '+45 05577668' },
    observations: [
      {
        code: 'NPU19748',
        display: 'P—C-reaktivt protein; massek. = ? mg/L',
        value: { quantity: 26, unit: 'mg/L', ucum: 'mg/L' },
        effective: '2026-11-25T10:24:08+01:00',
      },
      {
        code: 'NPU02593',
        display: 'B—Leukocytter; antalk. = ? × 10^9/L',
        value: { quantity: 9.1, unit: '10^9/L', ucum: '10*9/L' },
        effective: '2026-11-25T10:27:08+01:00',
        note: 'Målt efter måltid.',
      },
      {
        code: 'NPU21578',
        display: 'U—Nitrit; arb.k.(proc.) = ?',
        value: { string: 'Negative' },
        effective: '2026-11-25T10:30:00+01:00',
      },
    ],
    conclusion: 'ABCDE: stabil.',
  };
}

/** A fixed clock and a counter for ids, so two builds can be compared. */
export function fixedContext(start = '2026-11-25T12:00:00Z') {
  let n = 0;
  const t = new Date(start);
  return {
    now: () => t,
    newId: () => `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`,
  };
}
