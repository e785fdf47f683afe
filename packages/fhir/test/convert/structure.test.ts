import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseXml } from '@ehmi/xml';
import { jsonToXml, xmlToJson } from '../../src/index.ts';

const NS = 'xmlns="http://hl7.org/fhir"';
type Coded = Error & { code?: string; expression?: string[] };

test('the root element carries the FHIR namespace and resourceType becomes the element name', () => {
  assert.equal(jsonToXml({ resourceType: 'Basic', id: 'b1' }), `<Basic ${NS}><id value="b1"/></Basic>`);
  assert.deepEqual(xmlToJson(`<Basic ${NS}><id value="b1"/></Basic>`), { resourceType: 'Basic', id: 'b1' });
});

test('elements are written in StructureDefinition order whatever the JSON key order', () => {
  const xml = jsonToXml({ resourceType: 'Patient', gender: 'male', active: true, id: 'p' });
  assert.equal(xml, `<Patient ${NS}><id value="p"/><active value="true"/><gender value="male"/></Patient>`);
});

test('choice elements use the type-suffixed name in both formats (value[x])', () => {
  const obs = { resourceType: 'Observation', status: 'final', code: { text: 'x' }, valueString: 'ok' };
  const xml = jsonToXml(obs);
  assert.match(xml, /<valueString value="ok"\/>/);
  assert.deepEqual(xmlToJson(xml), obs);
});

test('two types given for one choice element are refused', () => {
  assert.throws(
    () =>
      jsonToXml({
        resourceType: 'Observation',
        status: 'final',
        code: {},
        valueString: 'a',
        valueBoolean: true,
      }),
    (err: Coded) => err.code === 'EHMI_VALIDATION_FAILED',
  );
});

test('repeating elements become arrays even with one occurrence, single ones stay scalar', () => {
  const json = xmlToJson(`<Patient ${NS}><name><given value="A"/></name><gender value="male"/></Patient>`);
  assert.deepEqual(json.name, [{ given: ['A'] }]);
  assert.equal(json.gender, 'male');
});

test('a non-repeating element given twice in XML is refused', () => {
  assert.throws(
    () => xmlToJson(`<Patient ${NS}><gender value="male"/><gender value="female"/></Patient>`),
    (err: Coded) => err.code === 'EHMI_VALIDATION_FAILED' && err.expression?.[0] === 'Patient.gender',
  );
});

test('Element.id and Extension.url are XML attributes', () => {
  const resource = {
    resourceType: 'Patient',
    extension: [{ id: 'e1', url: 'http://example.org/x', valueString: 'v' }],
    name: [{ id: 'n1', family: 'F' }],
  };
  const xml = jsonToXml(resource);
  assert.match(
    xml,
    /<extension id="e1" url="http:\/\/example.org\/x"><valueString value="v"\/><\/extension>/,
  );
  assert.match(xml, /<name id="n1"><family value="F"\/><\/name>/);
  assert.deepEqual(xmlToJson(xml), resource);
});

test('primitive id and extensions go to _name, aligned with null in repeating primitives (R4 §2.6.2)', () => {
  const resource = {
    resourceType: 'Patient',
    birthDate: '1970-01-01',
    _birthDate: {
      extension: [
        {
          url: 'http://hl7.org/fhir/StructureDefinition/patient-birthTime',
          valueDateTime: '1970-01-01T10:00:00+01:00',
        },
      ],
    },
    name: [
      {
        given: ['A', null, 'C'],
        _given: [null, { id: 'g2', extension: [{ url: 'http://example.org/x', valueCode: 'masked' }] }, null],
      },
    ],
  };
  const xml = jsonToXml(resource);
  assert.match(
    xml,
    /<given id="g2"><extension url="http:\/\/example.org\/x"><valueCode value="masked"\/><\/extension><\/given>/,
  );
  assert.deepEqual(xmlToJson(xml), resource);
});

test('contained resources and Bundle.entry.resource are wrapped resources in XML', () => {
  const bundle = {
    resourceType: 'Bundle',
    type: 'collection',
    entry: [
      {
        fullUrl: 'urn:uuid:1',
        resource: {
          resourceType: 'Observation',
          contained: [{ resourceType: 'Patient', id: 'p' }],
          status: 'final',
          code: { text: 'x' },
          subject: { reference: '#p' },
        },
      },
    ],
  };
  const xml = jsonToXml(bundle);
  assert.match(xml, /<resource><Observation><contained><Patient><id value="p"\/><\/Patient><\/contained>/);
  assert.deepEqual(xmlToJson(xml), bundle);
});

test('the narrative div stays XHTML in its namespace and round-trips as a string', () => {
  const div = '<div xmlns="http://www.w3.org/1999/xhtml"><p>Hej <b>med</b> dig &amp; ø</p></div>';
  const resource = { resourceType: 'Basic', text: { status: 'generated', div }, code: { text: 'x' } };
  const xml = jsonToXml(resource);
  assert.ok(xml.includes(`<text><status value="generated"/>${div}</text>`));
  assert.deepEqual(xmlToJson(xml), resource);
});

test('a narrative that is not an XHTML div is refused', () => {
  assert.throws(
    () => jsonToXml({ resourceType: 'Basic', text: { status: 'generated', div: '<p>x</p>' }, code: {} }),
    (err: Coded) => err.code === 'EHMI_VALIDATION_FAILED' && err.expression?.[0] === 'Basic.text.div',
  );
});

test('an unknown XML element is refused with its path', () => {
  assert.throws(
    () => xmlToJson(`<Bundle ${NS}><type value="message"/><entry><foo value="x"/></entry></Bundle>`),
    (err: Coded) => err.code === 'EHMI_VALIDATION_FAILED' && err.expression?.[0] === 'Bundle.entry[0].foo',
  );
});

test('an unknown element inside a nested resource is refused with the full path', () => {
  assert.throws(
    () =>
      xmlToJson(
        `<Bundle ${NS}><type value="message"/><entry/><entry><resource><Patient><bogus value="1"/></Patient></resource></entry></Bundle>`,
      ),
    (err: Coded) => err.expression?.[0] === 'Bundle.entry[1].resource.bogus',
  );
});

test('an unknown JSON property is refused with its path', () => {
  assert.throws(
    () => jsonToXml({ resourceType: 'Patient', name: [{ family: 'F', nickname: 'x' }] }),
    (err: Coded) =>
      err.code === 'EHMI_VALIDATION_FAILED' && err.expression?.[0] === 'Patient.name[0].nickname',
  );
});

test('an unknown resource type is refused', () => {
  assert.throws(
    () => jsonToXml({ resourceType: 'Nonsense' }),
    (err: Coded) => err.code === 'EHMI_VALIDATION_FAILED',
  );
  assert.throws(
    () => xmlToJson(`<Nonsense ${NS}/>`),
    (err: Coded) => err.code === 'EHMI_VALIDATION_FAILED',
  );
});

test('XML outside the FHIR namespace is refused', () => {
  assert.throws(
    () => xmlToJson('<Patient/>'),
    (err: Coded) => err.code === 'EHMI_VALIDATION_FAILED',
  );
});

test('a DOCTYPE is refused by the safe parser', () => {
  assert.throws(
    () => xmlToJson(`<!DOCTYPE x [<!ENTITY e "x">]><Patient ${NS}/>`),
    (err: Coded) => err.code === 'EHMI_XML_DOCTYPE_FORBIDDEN',
  );
});

test('XML comments are dropped, as FHIR JSON has none', () => {
  assert.deepEqual(xmlToJson(`<Patient ${NS}><!-- note --><active value="true"/></Patient>`), {
    resourceType: 'Patient',
    active: true,
  });
});

test('xsi:schemaLocation on a resource is ignored, as it carries no FHIR content', () => {
  const xml = `<Patient ${NS} xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://hl7.org/fhir fhir-all.xsd"><active value="true"/></Patient>`;
  assert.deepEqual(xmlToJson(xml), { resourceType: 'Patient', active: true });
});

test('any other attribute on a resource element is refused', () => {
  assert.throws(
    () => xmlToJson(`<Patient ${NS} id="x"><active value="true"/></Patient>`),
    (err: Coded) => err.code === 'EHMI_VALIDATION_FAILED' && err.expression?.[0] === 'Patient/@id',
  );
});

test('a JSON narrative comes back exactly as written: quotes, line breaks, empty elements', () => {
  const div =
    "<div xmlns='http://www.w3.org/1999/xhtml'>\r\n  <p class='x'>a &amp; b<br/>c</p>\n\t<a name=\"n\"> </a>\r\n</div>";
  const resource = { resourceType: 'Basic', text: { status: 'generated', div }, code: { text: 'x' } };
  assert.deepEqual(xmlToJson(jsonToXml(resource)), resource);
});

test('an XML narrative is copied to JSON as written in the document, CRLF line ends included', () => {
  const div =
    '<div xmlns="http://www.w3.org/1999/xhtml">\r\n<p>x &#228; <!-- c --><![CDATA[<y>]]></p>\r\n</div>';
  const xml = `<Basic ${NS}>\r\n<text><status value="generated"/>${div}</text><code><text value="x"/></code></Basic>`;
  assert.equal((xmlToJson(xml).text as { div: string }).div, div);
});

test('a narrative in a prefixed XHTML namespace declared on an ancestor becomes a self-contained div', () => {
  const xml = `<Basic ${NS} xmlns:h="http://www.w3.org/1999/xhtml"><text><status value="generated"/><h:div><h:p>x</h:p></h:div></text><code><text value="x"/></code></Basic>`;
  const div = (xmlToJson(xml).text as { div: string }).div;
  const el = parseXml(div).documentElement;
  assert.equal(el?.namespaceURI, 'http://www.w3.org/1999/xhtml');
  assert.equal(el?.localName, 'div');
  assert.equal(el?.textContent, 'x');
});
