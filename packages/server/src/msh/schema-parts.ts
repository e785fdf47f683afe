/**
 * The parts the EUA API's route schemas are written with (schemas.ts, webhooks/schemas.ts): an error answer as a
 * FHIR OperationOutcome, a JSON body, a reference to a component, a UUID.
 */

const outcome = { $ref: '#/components/schemas/OperationOutcome' };

/** An error answer: its description, and an OperationOutcome body. */
export const errorResponse = (description: string) => ({
  description,
  content: { 'application/fhir+json': { schema: outcome } },
});

/** A JSON body of `schema`. */
export const json = (schema: unknown) => ({ 'application/json': { schema } });

/** A reference to the component `name` of the OpenAPI document. */
export const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/** A UUID, as the ids of the API are. */
export const UUID = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
