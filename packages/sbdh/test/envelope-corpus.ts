// The envelopes the schema tests compare: the ones this package builds, MedCom's examples, and tampered copies.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { receiptFor, wrap, wrapForArchive } from '../src/index.ts';
import { exampleBundles, SBDH } from './fixtures.ts';

const bundles = exampleBundles();

export const built: { name: string; xml: string }[] = [];
for (const file of bundles) {
  let xml: string;
  try {
    xml = await wrap(readFileSync(file));
  } catch {
    continue; // a Bundle the wrapper refuses (not a message we can send) is no envelope we build
  }
  const name = file.slice(file.lastIndexOf('/') + 1);
  built.push({ name: `wrap ${name}`, xml });
  built.push({ name: `receipt ${name}`, xml: receiptFor(xml, { kind: 'acknowledgement' }) });
  built.push({
    name: `exception ${name}`,
    xml: receiptFor(xml, { kind: 'exception', category: 'Syntax', reason: 'a <reason> & "quotes" ]]> æøå' }),
  });
  if (name.includes('401cbc36'))
    built.push({ name: `archive ${name}`, xml: await wrapForArchive(readFileSync(file)) });
}

export const examples = ['examples', 'pages'].flatMap((dir) =>
  readdirSync(join(SBDH, dir))
    .filter((f) => f.endsWith('.xml'))
    .map((f) => ({ name: `${dir}/${f}`, xml: readFileSync(join(SBDH, dir, f), 'utf8') }))
    .filter((d) => d.xml.includes('StandardBusinessDocument')),
);

/** Tampering: each applied to every base it changes. `$&` keeps the match. */
export type Replacement = string | ((match: string, ...groups: string[]) => string);
export const TAMPER: [string, RegExp, Replacement][] = [
  ['HeaderVersion 2.0', /<HeaderVersion>1\.0</, '<HeaderVersion>2.0<'],
  ['HeaderVersion empty', /<HeaderVersion>1\.0<\/HeaderVersion>/, '<HeaderVersion/>'],
  ['HeaderVersion with a comment', /<HeaderVersion>1\.0</, '<HeaderVersion>1.<!--x-->0<'],
  ['no Receiver', /\s*<Receiver>[\s\S]*?<\/Receiver>/, ''],
  ['Sender twice', /<Sender>[\s\S]*?<\/Sender>/, '$&$&'],
  ['an unknown element', /<\/HeaderVersion>/, '</HeaderVersion><Extra/>'],
  ['an element of another namespace', /<\/HeaderVersion>/, '</HeaderVersion><x:Extra xmlns:x="urn:x"/>'],
  ['text between elements', /<\/HeaderVersion>/, '</HeaderVersion>text'],
  ['a processing instruction between elements', /<\/HeaderVersion>/, '</HeaderVersion><?pi x?>'],
  ['a comment between elements', /<\/HeaderVersion>/, '</HeaderVersion><!-- a comment -->'],
  ['Scope Type unknown', /<Type>[A-Z]+ID<\/Type>/, '<Type>NOT-A-SCOPE</Type>'],
  [
    'Scope Identifier unknown',
    /<Identifier>dk-medcom-messaging<\/Identifier>/,
    '<Identifier>other</Identifier>',
  ],
  ['Scope Identifier empty', /<Identifier>dk-medcom-messaging<\/Identifier>/, '<Identifier/>'],
  ['no Scope Identifier', /\s*<Identifier>dk-medcom-messaging<\/Identifier>/, ''],
  ['Manifest', /<BusinessScope>/, '<Manifest><NumberOfItems>1</NumberOfItems></Manifest><BusinessScope>'],
  [
    'ContactInformation',
    /(<Sender>\s*<Identifier[^>]*>[^<]*<\/Identifier>)/,
    '$1<ContactInformation><Contact>x</Contact></ContactInformation>',
  ],
  ['Authority other', /Authority="iso6523-actorid-upis"/, 'Authority="other"'],
  ['Authority absent', / Authority="iso6523-actorid-upis"/, ''],
  ['an unknown attribute', /<Sender>/, '<Sender foo="1">'],
  ['a qualified attribute', /<Sender>/, '<Sender xmlns:x="urn:x" x:foo="1">'],
  [
    'xsi:schemaLocation',
    /<StandardBusinessDocument /,
    '<StandardBusinessDocument xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="urn:x x.xsd" ',
  ],
  [
    'xsi:schemaLocation of one part',
    /<StandardBusinessDocument /,
    '<StandardBusinessDocument xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="urn:x" ',
  ],
  [
    'xsi:schemaLocation on an inner element',
    /<Sender>/,
    '<Sender xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="urn:x x.xsd">',
  ],
  [
    'xsi:noNamespaceSchemaLocation',
    /<StandardBusinessDocument /,
    '<StandardBusinessDocument xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="x.xsd" ',
  ],
  [
    'xsi:type',
    /<TypeVersion>/,
    '<TypeVersion xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xs:string" xmlns:xs="http://www.w3.org/2001/XMLSchema">',
  ],
  ['mimeType text/plain', /mimeType="[^"]*"/, 'mimeType="text/plain"'],
  ['mimeType absent', / mimeType="[^"]*"/, ''],
  ['encoding UTF-16', /(BinaryContent[^>]*)encoding="UTF-8"/, '$1encoding="UTF-16"'],
  ['encoding ISO-8859-1', /(BinaryContent[^>]*)encoding="UTF-8"/, '$1encoding="ISO-8859-1"'],
  ['declared UTF-16', /^<\?xml version="1.0" encoding="UTF-8"\?>/, '<?xml version="1.0" encoding="UTF-16"?>'],
  [
    'declared ISO-8859-1',
    /^<\?xml version="1.0" encoding="UTF-8"\?>/,
    "<?xml version='1.0' encoding='ISO-8859-1'?>",
  ],
  [
    'declared standalone',
    /^<\?xml version="1.0" encoding="UTF-8"\?>/,
    '<?xml version="1.0" encoding="utf-8" standalone="yes"?>',
  ],
  ['declared without encoding', /^<\?xml version="1.0" encoding="UTF-8"\?>/, '<?xml version="1.0"?>'],
  ['not declared', /^<\?xml version="1.0" encoding="UTF-8"\?>\s*/, ''],
  [
    'a processing instruction before the root',
    /<StandardBusinessDocument /,
    '<?pi x?><StandardBusinessDocument ',
  ],
  ['a comment before the root', /<StandardBusinessDocument /, '<!-- x --><StandardBusinessDocument '],
  ['base64 with a bad character', /(<(?:\w+:)?BinaryContent[^>]*>[A-Za-z0-9+/]{8})/, '$1!'],
  ['base64 one character short', /([A-Za-z0-9+/])(=*)(<\/(?:\w+:)?BinaryContent>)/, '$2$3'],
  ['base64 bad padding bits', /[A-Za-z0-9+/]=(<\/(?:\w+:)?BinaryContent>)/, '/=$1'],
  ['base64 padding in the middle', /(<(?:\w+:)?BinaryContent[^>]*>[A-Za-z0-9+/]{8})/, '$1===='],
  [
    'base64 in lines',
    /(<(?:\w+:)?BinaryContent[^>]*>)([^<]+)/,
    (_: string, a: string, b: string) => `${a}${b.replace(/.{1,76}/g, '$&\n')}`,
  ],
  [
    'base64 in CRLF lines',
    /(<(?:\w+:)?BinaryContent[^>]*>)([^<]+)/,
    (_: string, a: string, b: string) => `${a}\r\n${b.replace(/.{1,64}/g, '$&\r\n')}`,
  ],
  [
    'base64 spaced',
    /(<(?:\w+:)?BinaryContent[^>]*>)([^<]+)/,
    (_: string, a: string, b: string) => `${a}${b.replace(/.{4}/g, '$& ')}`,
  ],
  ['base64 with a tab', /(<(?:\w+:)?BinaryContent[^>]*>[A-Za-z0-9+/]{8})/, '$1\t'],
  ['base64 empty', /(<(?:\w+:)?BinaryContent[^>]*>)[^<]+/, '$1'],
  ['base64 as CDATA', /(<(?:\w+:)?BinaryContent[^>]*>)([^<]+)/, '$1<![CDATA[$2]]>'],
  [
    'BinaryContent in the PEPPOL namespace',
    /<(\w+:)?BinaryContent([^>]*)>([^<]*)<\/(\w+:)?BinaryContent>/,
    '<BinaryContent xmlns="http://peppol.eu/xsd/ticc/envelope/1.0"$2>$3</BinaryContent>',
  ],
  ['CreationDateAndTime month 13', /<CreationDateAndTime>\d{4}-\d\d/, '<CreationDateAndTime>2025-13'],
  ['CreationDateAndTime 31 April', /<CreationDateAndTime>\d{4}-\d\d-\d\d/, '<CreationDateAndTime>2025-04-31'],
  [
    'CreationDateAndTime 29 February 2025',
    /<CreationDateAndTime>\d{4}-\d\d-\d\d/,
    '<CreationDateAndTime>2025-02-29',
  ],
  [
    'CreationDateAndTime 29 February 2024',
    /<CreationDateAndTime>\d{4}-\d\d-\d\d/,
    '<CreationDateAndTime>2024-02-29',
  ],
  ['CreationDateAndTime 24:00', /(<CreationDateAndTime>[^T]*T)\d\d:\d\d:\d\d/, '$124:00:00'],
  ['CreationDateAndTime 23:59:60', /(<CreationDateAndTime>[^T]*T)\d\d:\d\d:\d\d/, '$123:59:60'],
  ['CreationDateAndTime +15:00', /(<CreationDateAndTime>[^<]*)(?:Z|[+-]\d\d:\d\d)</, '$1+15:00<'],
  ['CreationDateAndTime +14:00', /(<CreationDateAndTime>[^<]*)(?:Z|[+-]\d\d:\d\d)</, '$1+14:00<'],
  ['CreationDateAndTime Z', /(<CreationDateAndTime>[^<]*)(?:Z|[+-]\d\d:\d\d)</, '$1Z<'],
  ['CreationDateAndTime no zone', /(<CreationDateAndTime>[^<]*)(?:Z|[+-]\d\d:\d\d)</, '$1<'],
  ['CreationDateAndTime fractions', /(<CreationDateAndTime>[^<]*:\d\d)(Z|[+-]\d\d:\d\d)</, '$1.123456$2<'],
  ['CreationDateAndTime year 0000', /<CreationDateAndTime>\d{4}/, '<CreationDateAndTime>0000'],
  ['CreationDateAndTime year 12025', /<CreationDateAndTime>\d{4}/, '<CreationDateAndTime>12025'],
  ['CreationDateAndTime a date', /<CreationDateAndTime>([^T<]*)T[^<]*</, '<CreationDateAndTime>$1<'],
  ['MultipleType false', /<\/Type>(\s*<CreationDateAndTime>)/, '</Type><MultipleType>false</MultipleType>$1'],
  ['MultipleType 0', /<\/Type>(\s*<CreationDateAndTime>)/, '</Type><MultipleType>0</MultipleType>$1'],
  ['MultipleType true', /<\/Type>(\s*<CreationDateAndTime>)/, '</Type><MultipleType>true</MultipleType>$1'],
  ['DocumentIdentification Type empty', /<Type>[^<]*<\/Type>(\s*<CreationDateAndTime>)/, '<Type/>$1'],
  [
    'DocumentIdentification in another order',
    /<TypeVersion>([^<]*)<\/TypeVersion>(\s*)<InstanceIdentifier>([^<]*)<\/InstanceIdentifier>/,
    '<InstanceIdentifier>$3</InstanceIdentifier>$2<TypeVersion>$1</TypeVersion>',
  ],
  [
    'InstanceIdentifier as CDATA',
    /<InstanceIdentifier>([^<]*)<\/InstanceIdentifier>/,
    '<InstanceIdentifier><![CDATA[$1]]></InstanceIdentifier>',
  ],
  [
    'InstanceIdentifier with ]]>',
    /<InstanceIdentifier>([^<]*)<\/InstanceIdentifier>/,
    '<InstanceIdentifier>$1]]&gt;&amp;æ</InstanceIdentifier>',
  ],
  [
    'InstanceIdentifier with an element',
    /<InstanceIdentifier>([^<]*)<\/InstanceIdentifier>/,
    '<InstanceIdentifier>$1<b/></InstanceIdentifier>',
  ],
  ['no BusinessScope', /\s*<BusinessScope>[\s\S]*<\/BusinessScope>/, ''],
  ['BusinessScope empty', /<BusinessScope>[\s\S]*<\/BusinessScope>/, '<BusinessScope/>'],
  ['BusinessScope twice', /<BusinessScope>[\s\S]*<\/BusinessScope>/, '$&$&'],
  [
    'ServiceTransaction with whitespace',
    /<ServiceTransaction([^>]*)\/>/,
    '<ServiceTransaction$1> </ServiceTransaction>',
  ],
  [
    'ServiceTransaction with a child',
    /<ServiceTransaction([^>]*)\/>/,
    '<ServiceTransaction$1><x/></ServiceTransaction>',
  ],
  ['ServiceTransaction type unknown', /TypeOfServiceTransaction="[^"]*"/, 'TypeOfServiceTransaction="Other"'],
  ['TimeToAcknowledgeReceipt 0', /TimeToAcknowledgeReceipt="[^"]*"/, 'TimeToAcknowledgeReceipt="0"'],
  ['IsAuthenticationRequired true', /IsAuthenticationRequired="[^"]*"/, 'IsAuthenticationRequired="true"'],
  ['BusinessServiceName unknown', /<BusinessServiceName>[^<]*</, '<BusinessServiceName>Other<'],
  ['no ExpectedResponseDateTime', /\s*<ExpectedResponseDateTime>[^<]*<\/ExpectedResponseDateTime>/, ''],
  [
    'ExpectedResponseDateTime invalid',
    /<ExpectedResponseDateTime>[^<]*</,
    '<ExpectedResponseDateTime>tomorrow<',
  ],
  [
    'ScopeInformation in the other order',
    /(<CorrelationInformation>[\s\S]*?<\/CorrelationInformation>)(\s*)(<BusinessService>[\s\S]*?<\/BusinessService>)/,
    '$3$2$1',
  ],
  [
    'Scope element order',
    /<Scope>(\s*)<Type>([^<]*)<\/Type>(\s*)<InstanceIdentifier>([^<]*)<\/InstanceIdentifier>/,
    '<Scope>$1<InstanceIdentifier>$4</InstanceIdentifier>$3<Type>$2</Type>',
  ],
  [
    'root in another namespace prefix',
    /<StandardBusinessDocument /,
    '<StandardBusinessDocument xmlns:other="urn:other" ',
  ],
];

export function tampered(bases: { name: string; xml: string }[]): { name: string; xml: string }[] {
  const out: { name: string; xml: string }[] = [];
  for (const base of bases) {
    for (const [name, re, by] of TAMPER) {
      const xml = typeof by === 'string' ? base.xml.replace(re, by) : base.xml.replace(re, by);
      if (xml !== base.xml) out.push({ name: `${base.name}: ${name}`, xml });
    }
  }
  return out;
}
