import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadSchemaSet, validateXsd } from '../src/index.ts';

describe('validateXsd', () => {
  it('validates several documents in one call and reports each one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'xsd-'));
    await writeFile(
      join(dir, 'main.xsd'),
      `<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:t" xmlns:t="urn:t" elementFormDefault="qualified">
         <xs:include schemaLocation="types.xsd"/>
         <xs:element name="r" type="t:R"/>
       </xs:schema>`,
    );
    await writeFile(
      join(dir, 'types.xsd'),
      `<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:t" elementFormDefault="qualified">
         <xs:complexType name="R"><xs:sequence><xs:element name="n" type="xs:int"/></xs:sequence></xs:complexType>
       </xs:schema>`,
    );
    const set = await loadSchemaSet(dir, 'main.xsd');
    const [ok, bad] = await validateXsd(
      ['<r xmlns="urn:t"><n>1</n></r>', '<r xmlns="urn:t"><n>x</n></r>'],
      set,
    );
    assert.equal(ok?.valid, true);
    assert.equal(ok?.schema, 'main.xsd');
    assert.equal(bad?.valid, false);
    assert.match(bad?.issues[0]?.message ?? '', /'x' is not a valid value/);
    assert.equal(bad?.issues[0]?.line, 1);
  });
});
