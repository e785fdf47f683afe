/**
 * Route schemas of the EAS (params validated by fastify, the rest documentation); `GET /openapi.json` is generated
 * from them (http/openapi.ts). Operation parameters are checked against their OperationDefinition by the handler.
 */

const outcome = { $ref: '#/components/schemas/OperationOutcome' };
const err = (description: string) => ({
  description,
  content: { 'application/fhir+json': { schema: outcome } },
});
const fhir = (description: string) => ({
  description,
  content: { 'application/fhir+json': { schema: { type: 'object' } } },
});
const json = (description: string) => ({
  description,
  content: { 'application/json': { schema: { type: 'object' } } },
});
const bearer = [{ bearer: [] }];
const unauthorized = err('No or a wrong Authorization: Bearer <eas.adminToken>');
const operationParams = {
  type: 'object',
  required: ['operation'],
  properties: {
    operation: {
      type: 'string',
      minLength: 1,
      description:
        '$getReceivingOrganizationBySORId, $getReceivingOrganizationByGPId, $getReceivingOrganizationByPatientId or ' +
        '$getListOfGpByPostalCode (`$` may be percent-encoded)',
    },
  },
};
const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, description: 'Organization id' } },
};
const cprParams = {
  type: 'object',
  required: ['cpr'],
  properties: { cpr: { type: 'string', minLength: 1, description: 'CPR number (DDMMYY-SSSS or 10 digits)' } },
};

export const easOpenApi = {
  title: 'EHMI addressing service (EAS)',
  version: '1.0.0',
  description:
    'FHIR operations that find the receiving organisation of a message (by SOR id, GP, patient or postal code), and ' +
    'an admin API that feeds the index. Errors are FHIR OperationOutcome resources.',
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
};

export const schemas = {
  operationGet: {
    summary: 'Invoke an EAS operation with its primitive in-parameters as query parameters',
    params: operationParams,
    querystring: {
      type: 'object',
      description:
        "The operation's in-parameters (its OperationDefinition); an unknown one is refused with 400",
    },
    responses: {
      '200': fhir('Bundle or Parameters, as the operation defines'),
      '400': err('An unknown, empty or missing parameter'),
      '404': err('No such operation'),
      '501': err('The operation takes a resource parameter: use POST'),
    },
  },
  operationPost: {
    summary: 'Invoke an EAS operation with a Parameters body',
    params: operationParams,
    requestBody: { required: true, content: { 'application/fhir+json': { schema: { type: 'object' } } } },
    responses: {
      '200': fhir('Bundle or Parameters, as the operation defines'),
      '400': err('Not a Parameters resource, or an unknown, empty or missing parameter'),
      '404': err('No such operation'),
    },
  },
  metadata: { summary: 'CapabilityStatement of the EAS', responses: { '200': fhir('CapabilityStatement') } },
  operationDefinition: {
    summary: 'The OperationDefinition of one EAS operation',
    params: idParams,
    responses: { '200': fhir('OperationDefinition'), '404': err('No such OperationDefinition') },
  },
  putOrganization: {
    summary: 'Index an organisation with its endpoints and devices (admin)',
    security: bearer,
    params: idParams,
    requestBody: { required: true, content: { 'application/json': { schema: { type: 'object' } } } },
    responses: {
      '200': json('Replaced: {id, created, keys}'),
      '201': json('Added: {id, created, keys}'),
      '400': err('Not a feed of this organisation'),
      '401': unauthorized,
    },
  },
  getOrganization: {
    summary: 'What the index holds for an organisation (admin)',
    security: bearer,
    params: idParams,
    responses: {
      '200': json('{organization, endpoints, devices}'),
      '401': unauthorized,
      '404': err('Not held'),
    },
  },
  deleteOrganization: {
    summary: 'Remove an organisation from the index (admin)',
    security: bearer,
    params: idParams,
    responses: { '204': { description: 'Removed' }, '401': unauthorized },
  },
  putPatient: {
    summary: "Set a patient's GP (admin)",
    security: bearer,
    params: cprParams,
    requestBody: {
      required: true,
      content: {
        'application/json': {
          schema: {
            type: 'object',
            properties: { sor: { type: 'string' }, ydernummer: { type: 'string' }, gln: { type: 'string' } },
          },
        },
      },
    },
    responses: {
      '200': json('Replaced: {created}'),
      '201': json('Added: {created}'),
      '400': err('A bad CPR number or GP reference'),
      '401': unauthorized,
    },
  },
  deletePatient: {
    summary: "Remove a patient's GP (admin)",
    security: bearer,
    params: cprParams,
    responses: { '204': { description: 'Removed' }, '400': err('A bad CPR number'), '401': unauthorized },
  },
};
