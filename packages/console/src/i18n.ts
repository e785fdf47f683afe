// The console's words, English (the default) and Danish. Every label is a key of `en`; `da` must have each of them
// (the type says so), so a label cannot be shown in one language only.
import { createContext, useContext } from 'react';

export const en = {
  appName: 'EHMI console',
  skipToContent: 'Skip to content',
  navMessages: 'Messages',
  navInbox: 'Inbox',
  navRegisters: 'Registers',
  navHealth: 'Health',
  mainNavigation: 'Main navigation',
  language: 'Language',
  signOut: 'Sign out',
  signIn: 'Sign in',
  signInTitle: 'Sign in to the EHMI console',
  signInText:
    'The console shows the messages, journeys, inboxes, registers and health of this EHMI network. Sign in with your account at the network’s authorization server.',
  signedInAs: 'Signed in as',
  networkOperator: 'network operator',
  loading: 'Loading…',
  error: 'Something went wrong',
  retry: 'Try again',
  none: 'None',
  yes: 'yes',
  no: 'no',
  unavailable: 'Not available',
  // Messages
  messagesTitle: 'Messages',
  messagesIntro: 'Messages sent by the organisations you may see, newest first. The list updates by itself.',
  filters: 'Filters',
  sender: 'Sender',
  receiver: 'Receiver',
  messageType: 'Message type',
  status: 'Status',
  from: 'From',
  to: 'To',
  patient: 'Patient (CPR)',
  organisation: 'Organisation',
  anyValue: 'Any',
  apply: 'Apply',
  clear: 'Clear',
  created: 'Created',
  trackingId: 'Tracking id',
  needsAction: 'Needs action',
  resends: 'Resends',
  shown: 'Shown',
  of: 'of',
  previous: 'Previous',
  next: 'Next',
  page: 'Page',
  liveUpdates: 'Live updates',
  updatedAt: 'Updated',
  noMessages: 'No messages match.',
  notReachable: 'Could not be reached',
  'status.accepted': 'accepted',
  'status.sent': 'sent',
  'status.receipted': 'receipted',
  'status.acknowledged': 'acknowledged',
  'status.failed': 'failed',
  'needs.missing-receipt': 'no EnvelopeReceipt',
  'needs.missing-acknowledgement': 'no acknowledgement',
  // Journey
  journeyTitle: 'Message journey',
  backToMessages: 'Back to messages',
  journeyIntro: 'Each step the stations reported to EHMI Delivery Status, in the order of the flow.',
  messageId: 'MessageHeader.id',
  envelopeId: 'Envelope id',
  time: 'Time',
  station: 'Station',
  outcome: 'Outcome',
  step: 'Step',
  meaning: 'Meaning',
  success: 'success',
  failure: 'failure',
  missing: 'missing',
  pending: 'pending',
  dueBy: 'due by',
  late: 'late',
  'flow.message': 'The message',
  'flow.receipt': 'The EnvelopeReceipt back',
  'flow.acknowledgement': 'The acknowledgement back',
  'flow.ack-receipt': 'The acknowledgement’s EnvelopeReceipt',
  stationsTitle: 'Stations',
  senderSide: 'Sender',
  receiverSide: 'Receiver',
  failureReason: 'Failure',
  ebmsError: 'ebMS error',
  journeyFromMsh:
    'EHMI Delivery Status could not be read; the steps below are the sending MSH’s own timeline.',
  actions: 'Actions',
  resend: 'Resend',
  resendDone: 'Sent again as a new envelope.',
  newest: 'Newest',
  deadLettersTitle: 'Jobs given up on',
  deadLettersIntro:
    'The node stopped trying these jobs of the message (dead-lettered). Once the cause is mended, retry them.',
  attempts: 'Tries',
  lastError: 'Last error',
  retryJob: 'Retry',
  retryAll: 'Retry all',
  retryDone: 'Back in the queue: the node tries again now.',
  acknowledgementCode: 'Acknowledgement',
  events: 'Events',
  // Inbox
  inboxTitle: 'Inbox',
  inboxIntro: 'Messages received by the organisation, waiting to be read and acknowledged.',
  received: 'Received',
  open: 'Open',
  emptyInbox: 'The inbox is empty.',
  chooseOrganisation: 'Choose an organisation',
  acknowledge: 'Acknowledge',
  acknowledged: 'Acknowledged: the acknowledgement is on its way back to the sender.',
  rawJson: 'Raw JSON',
  rawXml: 'Raw XML',
  rendered: 'Rendered',
  viewAs: 'View as',
  birthDate: 'Born',
  gender: 'Gender',
  observations: 'Observations',
  test: 'Test',
  value: 'Value',
  unit: 'Unit',
  reference: 'Reference range',
  interpretation: 'Interpretation',
  narrative: 'Note',
  report: 'Report',
  issued: 'Issued',
  patientDataRestricted: 'Patient data is shown only to users entitled to it.',
  // Registers
  registersTitle: 'Registers',
  registersIntro:
    'Organisations, endpoints and access points from EER, with their certificates and SMP publication.',
  organisations: 'Organisations',
  name: 'Name',
  identifiers: 'Identifiers',
  endpoints: 'Endpoints',
  address: 'Address',
  messageTypes: 'Message types',
  accessPoints: 'Access points',
  certificate: 'Certificate',
  expires: 'Expires',
  daysLeft: 'days left',
  expired: 'expired',
  publication: 'SMP publication',
  'publication.published': 'published',
  'publication.pending': 'pending',
  'publication.failed': 'failed',
  // Health
  healthTitle: 'Health',
  healthIntro: 'Each node’s services, queues and certificates, and the traffic of the last hour.',
  node: 'Node',
  roles: 'Roles',
  service: 'Service',
  state: 'State',
  ok: 'ok',
  queues: 'Queues',
  queue: 'Queue',
  ready: 'waiting',
  running: 'running',
  dead: 'dead letters',
  nothingWaiting: 'no job waiting, running or dead',
  failures: 'Failures',
  trafficTitle: 'Traffic, last hour',
  volumeChart: 'Requests per minute, last hour',
  latencyChart: 'Mean time from submission to EnvelopeReceipt (ms), last hour',
  failuresChart: 'Failed answers per minute, last hour',
  certificatesExpiring: 'Certificates',
  database: 'Database and disk',
  sampledNote: 'The charts are drawn from the nodes’ /metrics, sampled by the console while it runs.',
  noSamplesYet: 'Collecting samples…',
} as const;

export type Key = keyof typeof en;
export type Dictionary = Record<Key, string>;

export const da: Dictionary = {
  appName: 'EHMI-konsol',
  skipToContent: 'Spring til indhold',
  navMessages: 'Beskeder',
  navInbox: 'Indbakke',
  navRegisters: 'Registre',
  navHealth: 'Drift',
  mainNavigation: 'Hovedmenu',
  language: 'Sprog',
  signOut: 'Log ud',
  signIn: 'Log ind',
  signInTitle: 'Log ind på EHMI-konsollen',
  signInText:
    'Konsollen viser beskeder, forsendelsesforløb, indbakker, registre og driftsstatus for dette EHMI-netværk. Log ind med din konto hos netværkets autorisationsserver.',
  signedInAs: 'Logget ind som',
  networkOperator: 'netværksoperatør',
  loading: 'Henter…',
  error: 'Der gik noget galt',
  retry: 'Prøv igen',
  none: 'Ingen',
  yes: 'ja',
  no: 'nej',
  unavailable: 'Ikke tilgængelig',
  messagesTitle: 'Beskeder',
  messagesIntro:
    'Beskeder sendt af de organisationer, du har adgang til, nyeste først. Listen opdateres af sig selv.',
  filters: 'Filtre',
  sender: 'Afsender',
  receiver: 'Modtager',
  messageType: 'Beskedtype',
  status: 'Status',
  from: 'Fra',
  to: 'Til',
  patient: 'Patient (CPR)',
  organisation: 'Organisation',
  anyValue: 'Alle',
  apply: 'Anvend',
  clear: 'Nulstil',
  created: 'Oprettet',
  trackingId: 'Sporings-id',
  needsAction: 'Kræver handling',
  resends: 'Genafsendelser',
  shown: 'Viser',
  of: 'af',
  previous: 'Forrige',
  next: 'Næste',
  page: 'Side',
  liveUpdates: 'Løbende opdatering',
  updatedAt: 'Opdateret',
  noMessages: 'Ingen beskeder passer.',
  notReachable: 'Kunne ikke nås',
  'status.accepted': 'modtaget',
  'status.sent': 'afsendt',
  'status.receipted': 'modtagelse bekræftet',
  'status.acknowledged': 'kvitteret',
  'status.failed': 'fejlet',
  'needs.missing-receipt': 'ingen EnvelopeReceipt',
  'needs.missing-acknowledgement': 'ingen kvittering',
  journeyTitle: 'Forsendelsesforløb',
  backToMessages: 'Tilbage til beskeder',
  journeyIntro: 'Hvert trin, stationerne har meldt til EHMI Delivery Status, i forløbets rækkefølge.',
  messageId: 'MessageHeader.id',
  envelopeId: 'Konvolut-id',
  time: 'Tid',
  station: 'Station',
  outcome: 'Udfald',
  step: 'Trin',
  meaning: 'Betydning',
  success: 'lykkedes',
  failure: 'fejlede',
  missing: 'mangler',
  pending: 'afventer',
  dueBy: 'senest',
  late: 'forsinket',
  'flow.message': 'Beskeden',
  'flow.receipt': 'EnvelopeReceipt retur',
  'flow.acknowledgement': 'Kvitteringen retur',
  'flow.ack-receipt': 'Kvitteringens EnvelopeReceipt',
  stationsTitle: 'Stationer',
  senderSide: 'Afsender',
  receiverSide: 'Modtager',
  failureReason: 'Fejl',
  ebmsError: 'ebMS-fejl',
  journeyFromMsh:
    'EHMI Delivery Status kunne ikke læses; trinene nedenfor er den afsendende MSH’s egen tidslinje.',
  actions: 'Handlinger',
  resend: 'Send igen',
  resendDone: 'Sendt igen i en ny konvolut.',
  newest: 'Nyeste',
  deadLettersTitle: 'Opgivne job',
  deadLettersIntro:
    'Noden er holdt op med at forsøge disse job for beskeden (dead-lettered). Prøv igen, når årsagen er rettet.',
  attempts: 'Forsøg',
  lastError: 'Seneste fejl',
  retryJob: 'Prøv igen',
  retryAll: 'Prøv alle igen',
  retryDone: 'Tilbage i køen: noden prøver igen nu.',
  acknowledgementCode: 'Kvittering',
  events: 'Hændelser',
  inboxTitle: 'Indbakke',
  inboxIntro: 'Beskeder modtaget af organisationen, som venter på at blive læst og kvitteret.',
  received: 'Modtaget',
  open: 'Åbn',
  emptyInbox: 'Indbakken er tom.',
  chooseOrganisation: 'Vælg en organisation',
  acknowledge: 'Kvittér',
  acknowledged: 'Kvitteret: kvitteringen er på vej tilbage til afsenderen.',
  rawJson: 'Rå JSON',
  rawXml: 'Rå XML',
  rendered: 'Vist',
  viewAs: 'Vis som',
  birthDate: 'Født',
  gender: 'Køn',
  observations: 'Analyser',
  test: 'Analyse',
  value: 'Værdi',
  unit: 'Enhed',
  reference: 'Referenceinterval',
  interpretation: 'Vurdering',
  narrative: 'Note',
  report: 'Svar',
  issued: 'Udstedt',
  patientDataRestricted: 'Patientdata vises kun for brugere, der har ret til dem.',
  registersTitle: 'Registre',
  registersIntro:
    'Organisationer, endepunkter og accesspunkter fra EER med deres certifikater og SMP-publicering.',
  organisations: 'Organisationer',
  name: 'Navn',
  identifiers: 'Identifikatorer',
  endpoints: 'Endepunkter',
  address: 'Adresse',
  messageTypes: 'Beskedtyper',
  accessPoints: 'Accesspunkter',
  certificate: 'Certifikat',
  expires: 'Udløber',
  daysLeft: 'dage tilbage',
  expired: 'udløbet',
  publication: 'SMP-publicering',
  'publication.published': 'publiceret',
  'publication.pending': 'afventer',
  'publication.failed': 'fejlet',
  healthTitle: 'Drift',
  healthIntro: 'Hver nodes tjenester, køer og certifikater og trafikken den seneste time.',
  node: 'Node',
  roles: 'Roller',
  service: 'Tjeneste',
  state: 'Tilstand',
  ok: 'ok',
  queues: 'Køer',
  queue: 'Kø',
  ready: 'venter',
  running: 'kører',
  dead: 'døde job',
  nothingWaiting: 'ingen job venter, kører eller er døde',
  failures: 'Fejl',
  trafficTitle: 'Trafik, seneste time',
  volumeChart: 'Forespørgsler pr. minut, seneste time',
  latencyChart: 'Gennemsnitlig tid fra afsendelse til EnvelopeReceipt (ms), seneste time',
  failuresChart: 'Fejlede svar pr. minut, seneste time',
  certificatesExpiring: 'Certifikater',
  database: 'Database og disk',
  sampledNote: 'Graferne tegnes ud fra nodernes /metrics, som konsollen måler, mens den kører.',
  noSamplesYet: 'Indsamler målinger…',
};

export type Lang = 'en' | 'da';
export const dictionaries: Record<Lang, Dictionary> = { en, da };

export interface I18n {
  lang: Lang;
  t: (key: Key) => string;
  setLang: (lang: Lang) => void;
  /** A time in the user's language, to the second, in the browser's time zone. */
  time: (iso: string | number | null | undefined) => string;
}

export const I18nContext = createContext<I18n>({
  lang: 'en',
  t: (key) => en[key],
  setLang: () => {},
  time: (iso) => (iso == null ? '' : new Date(iso).toLocaleString('en-GB')),
});

export function useI18n(): I18n {
  return useContext(I18nContext);
}

export function makeI18n(lang: Lang, setLang: (lang: Lang) => void): I18n {
  const dict = dictionaries[lang];
  const locale = lang === 'da' ? 'da-DK' : 'en-GB';
  const format = new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'medium' });
  return {
    lang,
    setLang,
    t: (key) => dict[key],
    time: (iso) => (iso == null || iso === '' ? '' : format.format(new Date(iso))),
  };
}

const FLOW_DA: Record<string, { first: number; what: string; stations: [string, 'o' | 'd'][] }> = {
  message: {
    first: 1,
    what: 'beskeden',
    stations: [
      ['EUA', 'o'],
      ['MSH', 'o'],
      ['AP', 'o'],
      ['AP', 'd'],
      ['MSH', 'd'],
      ['EUA', 'd'],
    ],
  },
  receipt: {
    first: 7,
    what: 'EnvelopeReceipt',
    stations: [
      ['MSH', 'o'],
      ['AP', 'o'],
      ['AP', 'd'],
      ['MSH', 'd'],
    ],
  },
  acknowledgement: {
    first: 11,
    what: 'kvitteringen',
    stations: [
      ['EUA', 'o'],
      ['MSH', 'o'],
      ['AP', 'o'],
      ['AP', 'd'],
      ['MSH', 'd'],
      ['EUA', 'd'],
    ],
  },
  'ack-receipt': {
    first: 17,
    what: 'kvitteringens EnvelopeReceipt',
    stations: [
      ['MSH', 'o'],
      ['AP', 'o'],
      ['AP', 'd'],
      ['MSH', 'd'],
    ],
  },
};

/**
 * An EDS step's meaning in Danish (ehmi-core §1.2: the step number places the flow and the station, `.1` is the
 * station's first event, `.2` its second); the English comes from the server (`@ehmi/sbdh` `edsStepMeaning`).
 */
export function stepMeaningDa(code: string | null): string | undefined {
  if (!code) return undefined;
  const m = /^(\d\d)\.(\d)$/.exec(code);
  if (!m) return undefined;
  const n = Number(m[1]);
  const sub = m[2];
  for (const [flow, f] of Object.entries(FLOW_DA)) {
    const index = n - f.first;
    const station = f.stations[index];
    if (index < 0 || !station) continue;
    const back = flow === 'receipt' || flow === 'acknowledgement';
    const side = (station[1] === 'o') !== back ? 'afsenderens' : 'modtagerens';
    const kind = station[0];
    if (index === 0)
      return sub === '1' ? `${side} ${kind} oprettede ${f.what}` : `${side} ${kind} sendte ${f.what}`;
    if (index === f.stations.length - 1) {
      return sub === '1' ? `${side} ${kind} modtog ${f.what}` : `${side} ${kind} afsluttede ${f.what}`;
    }
    return sub === '1' ? `${side} ${kind} modtog ${f.what}` : `${side} ${kind} sendte ${f.what} videre`;
  }
  return undefined;
}
