import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { RequestError } from '../shared/domain/errors';
import { isPlainObject } from '../shared/domain/json';
import { parseSegmentDefinition, SEGMENT_LIMITS, SegmentDefinition, SegmentIdSchema } from '../shared/domain/segments';
import { checkContentType, dispatch, errorResponse, jsonResponse, parseJson, pathParameter, readBody, Route } from '../shared/http';
import { InvalidSegment, isInvalidSegment, SegmentListing, SegmentStore, StoredSegment } from '../shared/store/segment-store';

export interface SegmentsDeps {
  segments: SegmentStore;
  now: () => number;
  logger: Logger;
  metrics: Metrics;
}

/**
 * Request bodies up to 256 KB: the largest definition the schema allows (50 leaves, each with a 4 KB trait value)
 * is about 220 KB as compact JSON, and still fits a DynamoDB item (400 KB).
 */
export const MAX_SEGMENT_BODY_BYTES = 256 * 1024;

/** JSON only (a body without a Content-Type is read as JSON). */
const ACCEPTED_MEDIA_TYPES: ReadonlySet<string> = new Set(['application/json']);

/** The methods of each resource (API Gateway resource paths). */
const ROUTES: Record<string, Record<string, Route<SegmentsDeps>>> = {
  '/v1/segments': { GET: listSegments, POST: createSegment },
  '/v1/segments/{segmentId}': { GET: getSegment, PUT: replaceSegment, DELETE: deleteSegment },
};

/**
 * The segment definitions (IAM authorization: SigV4-signed requests); a definition's format is in `domain/segments.ts`. A segment
 * reads as `{ id, name, description?, condition, version, createdAt, updatedAt }` (times in ISO 8601).
 * - `GET /v1/segments`: 200 `{ segments: [ … ] }`, sorted by id; with `invalid: [{ id, problem, … }]` as well when
 *   stored definitions no longer validate (they are not evaluated: replace or delete them).
 * - `POST /v1/segments` with a definition: 201, with `Location`. 409 when the id is taken, or when there are
 *   already `SEGMENT_LIMITS.segments` definitions.
 * - `GET /v1/segments/{segmentId}`: 200, 404 when there is none, 409 when the stored one no longer validates.
 * - `PUT /v1/segments/{segmentId}` with a definition (its `id` may be left out; if given it must be the path's):
 *   200 when it replaced one (version + 1), 201 when it created it (then the limit applies as for POST).
 * - `DELETE /v1/segments/{segmentId}`: 204, 404 when there was none.
 *
 * The limit is checked before the write, so concurrent creations may pass it together: it bounds mistakes, not
 * adversaries (every caller is an administrator with IAM access to the admin routes).
 */
export async function handleSegments(event: APIGatewayProxyEvent, deps: SegmentsDeps): Promise<APIGatewayProxyResult> {
  try {
    return await dispatch(event, ROUTES, deps, 'admin');
  } catch (error) {
    if (error instanceof RequestError) {
      deps.logger.info('Segment request refused', { status: error.status, reason: error.message });
      return errorResponse(error, 'admin');
    }
    deps.logger.error('Segment request failed', error as Error);
    return jsonResponse(500, { success: false, message: 'Internal error' });
  }
}

async function listSegments(_event: APIGatewayProxyEvent, deps: SegmentsDeps): Promise<APIGatewayProxyResult> {
  const { segments, invalid } = await deps.segments.list();
  return jsonResponse(200, { segments: segments.map(segmentView), ...(invalid.length > 0 ? { invalid: invalid.map(invalidView) } : {}) });
}

async function createSegment(event: APIGatewayProxyEvent, deps: SegmentsDeps): Promise<APIGatewayProxyResult> {
  const definition = parseSegmentDefinition(readDefinitionBody(event));
  const listing = await deps.segments.list();
  if (holds(listing, definition.id)) throw alreadyExists(definition.id);
  checkRoomForOneMore(listing);
  const created = await deps.segments.put(definition, deps.now(), 'create');
  if (created === 'exists') throw alreadyExists(definition.id);
  recordChange(deps, 'SegmentsCreated', created);
  return jsonResponse(201, segmentView(created), { Location: `/v1/segments/${definition.id}` });
}

async function getSegment(event: APIGatewayProxyEvent, deps: SegmentsDeps): Promise<APIGatewayProxyResult> {
  const id = segmentIdOf(event);
  const found = await deps.segments.get(id);
  if (!found) throw notFound(id);
  if (isInvalidSegment(found)) {
    throw new RequestError(409, `Segment "${id}" is stored but no longer valid (${found.problem}); replace it with PUT or remove it with DELETE`);
  }
  return jsonResponse(200, segmentView(found));
}

async function replaceSegment(event: APIGatewayProxyEvent, deps: SegmentsDeps): Promise<APIGatewayProxyResult> {
  const id = segmentIdOf(event);
  const definition = parseSegmentDefinition(withPathId(readDefinitionBody(event), id));
  const listing = await deps.segments.list();
  if (!holds(listing, id)) checkRoomForOneMore(listing);
  const stored = await deps.segments.put(definition, deps.now(), 'replace');
  // The version says what happened, even if another request created or deleted the segment in between.
  const created = stored.version === 1;
  recordChange(deps, created ? 'SegmentsCreated' : 'SegmentsReplaced', stored);
  return jsonResponse(created ? 201 : 200, segmentView(stored), created ? { Location: `/v1/segments/${id}` } : {});
}

async function deleteSegment(event: APIGatewayProxyEvent, deps: SegmentsDeps): Promise<APIGatewayProxyResult> {
  const id = segmentIdOf(event);
  if (!(await deps.segments.delete(id))) throw notFound(id);
  deps.metrics.addMetric('SegmentsDeleted', MetricUnit.Count, 1);
  deps.logger.info('Segment deleted', { segmentId: id });
  return { statusCode: 204, headers: {}, body: '' };
}

/** The request body as JSON, checked for media type and size; the definition itself is validated by the caller. */
function readDefinitionBody(event: APIGatewayProxyEvent): unknown {
  checkContentType(event, ACCEPTED_MEDIA_TYPES, 'application/json');
  return parseJson(readBody(event, MAX_SEGMENT_BODY_BYTES));
}

/**
 * The path's segment id, checked with the schema's own rule for `id` (a malformed id is a 400, not a 404), so
 * the API never addresses a segment that could not have been created.
 */
function segmentIdOf(event: APIGatewayProxyEvent): string {
  const id = pathParameter(event, 'segmentId');
  const parsed = SegmentIdSchema.safeParse(id);
  if (!parsed.success) throw new RequestError(400, `segmentId ${parsed.error.issues[0].message}`);
  return parsed.data;
}

/** A PUT body with the path's id: the body may leave `id` out, but may not name another segment. */
function withPathId(body: unknown, id: string): unknown {
  if (!isPlainObject(body)) return body; // the schema says what is wrong with it
  if (Object.hasOwn(body, 'id') && body.id !== id) {
    throw new RequestError(400, `The body's id ${JSON.stringify(body.id)} is not the path's segment id "${id}"; leave it out or make them equal`);
  }
  return { ...body, id };
}

function holds(listing: SegmentListing, id: string): boolean {
  return listing.segments.some((s) => s.definition.id === id) || listing.invalid.some((s) => s.id === id);
}

/** Definitions that no longer validate count too: they are stored, and shown, until replaced or deleted. */
function checkRoomForOneMore(listing: SegmentListing): void {
  if (listing.segments.length + listing.invalid.length >= SEGMENT_LIMITS.segments) {
    throw new RequestError(409, `There are already ${SEGMENT_LIMITS.segments} segment definitions, the most allowed; delete one first`);
  }
}

function recordChange(deps: SegmentsDeps, metric: 'SegmentsCreated' | 'SegmentsReplaced', stored: StoredSegment): void {
  deps.metrics.addMetric(metric, MetricUnit.Count, 1);
  deps.logger.info(metric === 'SegmentsCreated' ? 'Segment created' : 'Segment replaced', { segmentId: stored.definition.id, version: stored.version });
}

const alreadyExists = (id: string) => new RequestError(409, `Segment "${id}" already exists; replace it with PUT /v1/segments/${id}`);
const notFound = (id: string) => new RequestError(404, `No segment "${id}"`);

function segmentView(stored: StoredSegment): SegmentDefinition & { version: number; createdAt: string; updatedAt: string } {
  return { ...stored.definition, ...timesOf(stored) };
}

function invalidView(invalid: InvalidSegment) {
  return { id: invalid.id, problem: invalid.problem, ...timesOf(invalid) };
}

function timesOf(stored: Pick<StoredSegment, 'version' | 'createdAt' | 'updatedAt'>) {
  return { version: stored.version, createdAt: new Date(stored.createdAt).toISOString(), updatedAt: new Date(stored.updatedAt).toISOString() };
}
