import { createHash, type KeyObject, type X509Certificate } from 'node:crypto';
import { EhmiError } from '@ehmi/errors';
import {
  buildServiceGroup,
  buildServiceMetadata,
  buildSignedServiceMetadata,
  identifierFromUrlPath,
  parseServiceGroup,
  parseServiceMetadata,
  type ServiceMetadata,
  type SmpFlavour,
  type SmpIdentifier,
  sameDocumentType,
  toCertificate,
} from '@ehmi/smp';
import { type Document, parseXml, rootElement } from '@ehmi/xml';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { StaticBearerToken } from '../http/index.ts';
import { SMP_CONTENT_TYPE, smpErrorHandler } from './errors.ts';
import type { SmpRepository } from './repository.ts';

const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n';
/** Largest ServiceGroup/ServiceMetadata body the admin API takes (a ServiceMetadata is a few KB). */
export const MAX_SMP_BODY_BYTES = 1024 * 1024;
/** Signed responses kept in memory (by row and version), so repeated reads do not re-sign. */
const SIGNED_CACHE_SIZE = 1000;

export interface SmpRoutesOptions {
  repository: SmpRepository;
  flavour: SmpFlavour;
  /** The SMP's public base URL (ServiceMetadataReference hrefs); read per request, known after listen. */
  publicUrl: () => string;
  signing: { key: KeyObject; chain: X509Certificate[] };
  /**
   * How this server takes the admin API (PUT, DELETE): with access tokens (`hook`, the role's
   * `protectResourceServer` hook: mTLS and `smp/publication.write`), with the static `smp.adminToken` (the `insecure`
   * development switch without authorization; undefined disables the admin API), or not here (`elsewhere`: the
   * read server, when the admin API is served over HTTPS on its own port).
   */
  admin:
    | { kind: 'access-token'; hook: (request: FastifyRequest, reply: FastifyReply) => Promise<void> }
    | { kind: 'static'; token: string | undefined }
    | { kind: 'elsewhere'; url: () => string };
  /** Whether this server serves the read API (GET); default true. */
  read?: boolean;
  /** Called after a ServiceGroup was committed (true) or deleted (false): the DNS zone follows. */
  onServiceGroup?: (participant: SmpIdentifier, present: boolean) => void;
}

const smpError = (description: string) => ({
  description,
  content: {
    'text/xml': { schema: { type: 'string', description: 'DomiSMP ErrorResponse (ec:services:SMP:1.0)' } },
  },
});
const xml = (description: string) => ({
  description,
  content: { 'text/xml': { schema: { type: 'string' } } },
});
const RESOURCE_PARAMS = {
  type: 'object',
  properties: {
    '*': {
      type: 'string',
      description:
        '{participant} (ServiceGroup) or {participant}/services/{documentType} (ServiceMetadata), each an ' +
        'identifier scheme::value, percent-encoded',
    },
  },
};
const adminAuth = smpError(
  'No client certificate, no or a wrong access token (401), a token without smp/publication.write, or the admin API is not served here (403)',
);

type Resource =
  | { kind: 'group'; participant: SmpIdentifier }
  | { kind: 'metadata'; participant: SmpIdentifier; document: SmpIdentifier };

/**
 * The resource a request path names: `/{participant}` or `/{participant}/services/{documentType}` (OASIS BDXR SMP
 * 1.0 and Peppol SMP 1.x REST bindings). Read from the raw path, so `%2F` or `%23` inside an identifier stay inside
 * its segment; both the percent-encoded and the raw `::` are accepted (as-smp.md §2.1). Identifiers are checked
 * strictly (a 0088 GLN with a wrong check digit is malformed): EHMI_SMP_IDENTIFIER_INVALID names it.
 */
function resourceOf(rawUrl: string): Resource {
  const path = rawUrl.split('?')[0] ?? '/';
  const segments = path.split('/').slice(1);
  if (segments.length === 1 && segments[0]) {
    return { kind: 'group', participant: identifierFromUrlPath('participant', segments[0]) };
  }
  if (segments.length === 3 && segments[0] && segments[1] === 'services' && segments[2]) {
    return {
      kind: 'metadata',
      participant: identifierFromUrlPath('participant', segments[0]),
      document: identifierFromUrlPath('document', segments[2]),
    };
  }
  throw new EhmiError(
    'EHMI_NOT_FOUND',
    `no SMP resource at ${path}: expected /{participant} or /{participant}/services/{documentType}`,
  );
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** Parses an admin request body; malformed XML and wrong structure are both 400 (naming what is wrong). */
function bodyDocument(body: unknown, what: string): Document {
  if (typeof body !== 'string') {
    throw new EhmiError('EHMI_UNSUPPORTED_MEDIA_TYPE', `send the ${what} as text/xml or application/xml`);
  }
  return parseXml(body, { source: `the ${what} body`, maxBytes: MAX_SMP_BODY_BYTES });
}

function unreadable(what: string, err: unknown): EhmiError {
  const message = err instanceof Error ? err.message : String(err);
  return new EhmiError('EHMI_INPUT_UNREADABLE', `the ${what} body is not a valid ${what}: ${message}`, {
    cause: err,
    ...(err instanceof EhmiError && err.expression ? { expression: err.expression } : {}),
  });
}

/** Checks a published ServiceMetadata against the URL it is PUT to and against what a sender will need. */
function checkServiceMetadata(
  md: ServiceMetadata,
  participant: SmpIdentifier,
  document: SmpIdentifier,
): void {
  const wrong = (message: string) => new EhmiError('EHMI_USAGE', message);
  if (md.redirect) {
    if (!/^https?:\/\/\S+$/i.test(md.redirect.href)) {
      throw wrong(`Redirect/@href "${md.redirect.href}" is not an http(s) URL`);
    }
    if (!md.redirect.certificateUid.trim()) throw wrong('Redirect/CertificateUID is empty');
    return;
  }
  const info = md.serviceInformation!;
  if (!info.participant.equals(participant)) {
    throw wrong(`ParticipantIdentifier ${info.participant} in the body is not ${participant} of the URL`);
  }
  if (!info.documentType.equals(document)) {
    throw wrong(`DocumentIdentifier ${info.documentType} in the body is not ${document} of the URL`);
  }
  // OASIS BDXR SMP 1.0 XSD: ProcessList 1..n Process, ServiceEndpointList 1..n Endpoint.
  if (info.processes.length === 0) throw wrong('ProcessList has no Process');
  for (const p of info.processes) {
    if (p.endpoints.length === 0) throw wrong(`Process ${p.processId} has no Endpoint`);
    for (const e of p.endpoints) {
      if (!/^https?:\/\/\S+$/i.test(e.endpointUrl)) {
        throw wrong(`Endpoint ${e.endpointUrl} of process ${p.processId} is not an http(s) URL`);
      }
      try {
        if (!e.certificate) throw new Error('it is empty');
        toCertificate(Buffer.from(e.certificate, 'base64'), 'Endpoint Certificate');
      } catch (err) {
        throw wrong(
          `Endpoint ${e.endpointUrl}: Certificate is not a base64 DER X.509 certificate (${(err as Error).message})`,
        );
      }
    }
  }
}

/**
 * The SMP's REST API on `app`: the read API (GET ServiceGroup and SignedServiceMetadata) and the admin API (PUT
 * and DELETE of both, OASIS BDXR SMP 1.0 / phoss SMP REST write binding) behind `Authorization: Bearer <token>`.
 * Errors are DomiSMP `ErrorResponse` bodies.
 */
export async function registerSmpRoutes(app: FastifyInstance, options: SmpRoutesOptions): Promise<void> {
  const { repository, flavour } = options;
  const admin = options.admin;
  const adminToken =
    admin.kind === 'static' && admin.token !== undefined ? new StaticBearerToken(admin.token) : undefined;
  const signed = new Map<string, string>();

  await app.register(async (scope) => {
    scope.setErrorHandler(smpErrorHandler);
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(
      ['text/xml', 'application/xml'],
      { parseAs: 'string', bodyLimit: MAX_SMP_BODY_BYTES },
      (_request, body, done) => done(null, body),
    );

    // Admin requests are authenticated before their body is read.
    scope.addHook('onRequest', async (request, reply) => {
      if (request.method !== 'PUT' && request.method !== 'DELETE') return;
      if (admin.kind === 'access-token') return admin.hook(request, reply);
      if (admin.kind === 'elsewhere') {
        throw new EhmiError(
          'EHMI_FORBIDDEN',
          `the admin API of this SMP is served over HTTPS at ${admin.url()}, with access tokens (smp/publication.write)`,
        );
      }
      if (!adminToken) {
        throw new EhmiError(
          'EHMI_FORBIDDEN',
          'the admin API of this SMP is disabled (smp.adminToken is not set)',
        );
      }
      if (StaticBearerToken.bearer(request.headers.authorization) === undefined) {
        throw new EhmiError('EHMI_UNAUTHORIZED', 'the admin API needs Authorization: Bearer <token>');
      }
      if (!adminToken.matches(request.headers.authorization)) {
        throw new EhmiError('EHMI_UNAUTHORIZED', 'the bearer token is not valid for this SMP');
      }
    });

    const send = (reply: FastifyReply, xml: string) =>
      reply.type(SMP_CONTENT_TYPE).send(XML_DECLARATION + xml);

    if (options.read !== false)
      scope.get(
        '/*',
        {
          schema: {
            summary:
              'ServiceGroup or SignedServiceMetadata of a participant (OASIS BDXR SMP 1.0 / Peppol SMP 1.x)',
            security: [],
            params: RESOURCE_PARAMS,
            responses: {
              '200': xml('ServiceGroup, or SignedServiceMetadata signed by the SMP'),
              '400': smpError('A malformed identifier'),
              '404': smpError('Not registered'),
            },
          },
        },
        async (request: FastifyRequest, reply) => {
          const resource = resourceOf(request.raw.url ?? '/');
          const published = await repository.serviceGroup(resource.participant);
          if (!published) {
            throw new EhmiError(
              'EHMI_NOT_FOUND',
              `participant ${resource.participant} is not registered at this SMP`,
            );
          }
          if (resource.kind === 'group') {
            const documents = await repository.documentTypes(published);
            return send(
              reply,
              buildServiceGroup(
                {
                  flavour,
                  participant: published,
                  references: documents.map((documentType) => ({ documentType })),
                },
                { baseUrl: options.publicUrl() },
              ),
            );
          }
          let row = await repository.serviceMetadata(published, resource.document);
          if (!row) {
            // MedCom's document identifiers come in several spellings (ehmi-core §2.3): serve the one published for
            // the same message and version.
            const other = (await repository.documentTypes(published)).find((d) =>
              sameDocumentType(d, resource.document),
            );
            if (other) row = await repository.serviceMetadata(published, other);
          }
          if (!row) {
            throw new EhmiError(
              'EHMI_NOT_FOUND',
              `participant ${published} has no ServiceMetadata for document type ${resource.document} at this SMP`,
            );
          }
          // Keyed by content, not by updated_at: two PUTs within one millisecond must not serve the older one.
          const cacheKey = `${row.participant_key}\u0000${row.document_key}\u0000${sha256(row.xml).toString('base64')}`;
          let xml = signed.get(cacheKey);
          if (xml === undefined) {
            // Signed when served (OASIS BDXR SMP 1.0: the SMP signs each SignedServiceMetadata) with its current key, so a
            // key rollover needs no re-publication.
            const md = { ...parseServiceMetadata(row.xml), flavour };
            xml = buildSignedServiceMetadata(md, {
              key: options.signing.key,
              certificate: options.signing.chain,
            });
            if (signed.size >= SIGNED_CACHE_SIZE) signed.delete(signed.keys().next().value!);
            signed.set(cacheKey, xml);
          }
          return send(reply, xml);
        },
      );

    scope.put(
      '/*',
      {
        schema: {
          summary: 'Register a ServiceGroup or ServiceMetadata (admin)',
          security: [{ bearer: [] }],
          params: RESOURCE_PARAMS,
          requestBody: { required: true, content: { 'text/xml': { schema: { type: 'string' } } } },
          responses: {
            '200': { description: 'Replaced' },
            '201': { description: 'Created' },
            '400': smpError('A malformed identifier or document'),
            '401': adminAuth,
            '403': adminAuth,
            '413': smpError('Body too large'),
          },
        },
      },
      async (request, reply) => {
        const resource = resourceOf(request.raw.url ?? '/');
        if (resource.kind === 'group') {
          const doc = bodyDocument(request.body, 'ServiceGroup');
          let group: ReturnType<typeof parseServiceGroup>;
          try {
            group = parseServiceGroup(doc);
          } catch (err) {
            throw unreadable('ServiceGroup', err);
          }
          if (!group.participant.equals(resource.participant)) {
            throw new EhmiError(
              'EHMI_USAGE',
              `ParticipantIdentifier ${group.participant} in the body is not ${resource.participant} of the URL`,
            );
          }
          // ServiceMetadataReferences in the body are ignored: the SMP lists what it has (as phoss SMP does).
          const created = await repository.putServiceGroup(resource.participant);
          options.onServiceGroup?.(resource.participant, true);
          return reply.status(created ? 201 : 200).send();
        }
        const doc = bodyDocument(request.body, 'ServiceMetadata');
        if (rootElement(doc).localName !== 'ServiceMetadata') {
          throw new EhmiError(
            'EHMI_INPUT_UNREADABLE',
            `the ServiceMetadata body is a ${rootElement(doc).localName}: PUT an unsigned ServiceMetadata (the SMP signs)`,
          );
        }
        let md: ServiceMetadata;
        try {
          md = parseServiceMetadata(doc);
        } catch (err) {
          throw unreadable('ServiceMetadata', err);
        }
        checkServiceMetadata(md, resource.participant, resource.document);
        const xml = buildServiceMetadata({ ...md, flavour });
        const result = await repository.putServiceMetadata(resource.participant, resource.document, xml);
        if (!result.group) {
          throw new EhmiError(
            'EHMI_NOT_FOUND',
            `participant ${resource.participant} has no ServiceGroup at this SMP: PUT the ServiceGroup first`,
          );
        }
        return reply.status(result.created ? 201 : 200).send();
      },
    );

    scope.delete(
      '/*',
      {
        schema: {
          summary: 'Remove a ServiceGroup (with its metadata) or a ServiceMetadata (admin)',
          security: [{ bearer: [] }],
          params: RESOURCE_PARAMS,
          responses: {
            '200': { description: 'Removed' },
            '401': adminAuth,
            '403': adminAuth,
            '404': smpError('Not registered'),
          },
        },
      },
      async (request, reply) => {
        const resource = resourceOf(request.raw.url ?? '/');
        if (resource.kind === 'group') {
          if (!(await repository.deleteServiceGroup(resource.participant))) {
            throw new EhmiError(
              'EHMI_NOT_FOUND',
              `participant ${resource.participant} is not registered at this SMP`,
            );
          }
          options.onServiceGroup?.(resource.participant, false);
          return reply.status(200).send();
        }
        if (!(await repository.deleteServiceMetadata(resource.participant, resource.document))) {
          throw new EhmiError(
            'EHMI_NOT_FOUND',
            `participant ${resource.participant} has no ServiceMetadata for document type ${resource.document} at this SMP`,
          );
        }
        return reply.status(200).send();
      },
    );
  });
}
