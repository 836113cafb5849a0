import { randomUUID } from 'node:crypto';
import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { LIMITS } from '../shared/domain/event-schema';
import { RequestError } from '../shared/domain/errors';
import { ingestMessages, IngestRoute, ROUTES, sourceIdOf } from '../shared/domain/ingestion';
import { isPlainObject } from '../shared/domain/json';
import { basicAuthUser, checkContentType, errorResponse, header, jsonResponse, parseJson, readBody } from '../shared/http';
import type { BadEvent, BadEventStore } from '../shared/store/bad-event-store';
import type { EventStream } from '../shared/store/event-stream';
import type { KeyStore } from '../shared/store/key-store';

export interface IngestDeps {
  stream: EventStream;
  /** Where events rejected inside an authenticated request are kept (the lake's `bad-events/`). */
  badEvents: BadEventStore;
  writeKeys: KeyStore;
  now: () => number;
  logger: Logger;
  metrics: Metrics;
}

/** Browsers (analytics.js) post `text/plain` to avoid a CORS preflight; servers post `application/json`. */
const ACCEPTED_MEDIA_TYPES = new Set(['application/json', 'text/plain']);
/** Browsers call from any origin: the write key, not the origin, is the credential. */
const CORS = { 'Access-Control-Allow-Origin': '*' };

/**
 * `POST /v1/{track|page|screen|identify|alias|group|batch}` and the one-letter routes analytics.js uses.
 *
 * Answers 200 only once every accepted event is durably in the stream. A batch with invalid events gets a
 * 400 that lists each rejected event's index and reason; the valid events of that batch *are* accepted and
 * written, and the response says how many (`accepted`), so a client must not resend them.
 *
 * What an authenticated request had rejected (its invalid events, or its whole body when that is not JSON or not
 * a valid request) is recorded in the bad-events store with the reason and the source, before the 400 is sent;
 * a request that is not authenticated never is. Recording is best effort: if it fails the response is the same.
 */
export async function handleIngest(event: APIGatewayProxyEvent, deps: IngestDeps): Promise<APIGatewayProxyResult> {
  const request: RequestInfo = { id: event.requestContext?.requestId ?? randomUUID(), receivedAt: deps.now() };
  try {
    const route = ROUTES[event.resource.split('/').pop() ?? ''];
    if (!route) throw new RequestError(404, `No ingestion route ${event.resource}`);

    // API Gateway's write-key authorizer has checked the key on the full-name routes; on the others, this does.
    const authorized = event.requestContext?.authorizer?.sourceId;
    if (typeof authorized === 'string') {
      request.sourceId = authorized;
    } else {
      const headerKey = basicAuthUser(header(event, 'authorization'));
      if (headerKey !== undefined) await authenticate(headerKey, deps, request);
    }
    checkContentType(event, ACCEPTED_MEDIA_TYPES, 'application/json (or text/plain holding JSON)');
    request.body = readBody(event, LIMITS.maxBatchBytes);
    const body = parseJson(request.body);
    if (request.sourceId === undefined) {
      // analytics.js sends the key in the body, which no API Gateway authorizer can read.
      const writeKey = isPlainObject(body) && typeof body.writeKey === 'string' ? body.writeKey : undefined;
      if (writeKey === undefined) throw new RequestError(401, 'Missing write key: send HTTP Basic authentication with the write key as the user name');
      await authenticate(writeKey, deps, request);
    }

    return await accept(route, body, request as AuthenticatedRequest, deps);
  } catch (error) {
    if (error instanceof RequestError) {
      deps.metrics.addMetric('RequestsRejected', MetricUnit.Count, 1);
      countBy(deps.metrics, 'RequestsRejectedByStatus', 'status', String(error.status), 1);
      deps.logger.info('Request rejected', { status: error.status, reason: error.message });
      // A body that was read after authentication but is not a valid request (not JSON, not an object, no batch):
      // kept whole. Other refusals (size, media type, encoding) have no body worth keeping.
      if (error.status === 400 && request.sourceId !== undefined && request.body !== undefined) {
        await record([{ ...badEventOf(request as AuthenticatedRequest, request.id, error.message), payload: redactWriteKeys(request.body) }], deps);
      }
      return errorResponse(error, 'ingest', CORS);
    }
    deps.logger.error('Ingestion failed', error as Error);
    return jsonResponse(500, { success: false, message: 'Internal error; retry the request' }, CORS);
  }
}

/** What is known about the request being handled; `sourceId` is set once it is authenticated. */
interface RequestInfo {
  /** API Gateway's request id. */
  id: string;
  receivedAt: number;
  sourceId?: string;
  /** The body as text, once read. */
  body?: string;
}
type AuthenticatedRequest = RequestInfo & { sourceId: string };

async function accept(route: IngestRoute, body: unknown, request: AuthenticatedRequest, deps: IngestDeps): Promise<APIGatewayProxyResult> {
  const { accepted, rejected, rejectedMessages } = ingestMessages(route, body, { receivedAt: request.receivedAt, sourceId: request.sourceId });

  if (accepted.length > 0) {
    const { failed, lastError } = await deps.stream.put(accepted);
    if (failed.length > 0) {
      // Not recorded as bad events yet: the client resends the whole request, and they are rejected (and recorded) then.
      deps.metrics.addMetric('EventsNotWritten', MetricUnit.Count, failed.length);
      deps.logger.error('Events could not be written to the stream', { failed: failed.length, of: accepted.length, lastError });
      return jsonResponse(
        503,
        { success: false, message: `${failed.length} of ${accepted.length} events could not be written; retry the request` },
        { ...CORS, 'Retry-After': '1' },
      );
    }
  }
  deps.metrics.addMetric('EventsAccepted', MetricUnit.Count, accepted.length);
  if (rejected.length === 0) return jsonResponse(200, { success: true }, CORS);

  deps.metrics.addMetric('EventsRejected', MetricUnit.Count, rejected.length);
  const kinds = new Map<string, number>();
  for (const r of rejected) kinds.set(r.kind, (kinds.get(r.kind) ?? 0) + 1);
  for (const [kind, count] of kinds) countBy(deps.metrics, 'EventsRejectedByReason', 'reason', kind, count);
  deps.logger.info('Events rejected', { accepted: accepted.length, rejected });
  await record(
    rejected.map((r, i) => ({ ...badEventOf(request, `${request.id}/${r.index}`, r.reason), payload: redactWriteKeys(payloadOf(rejectedMessages[i])) })),
    deps,
  );
  const message =
    accepted.length === 0
      ? route === 'batch'
        ? `All ${rejected.length} events were rejected`
        : rejected[0].reason
      : `${rejected.length} of ${rejected.length + accepted.length} events were rejected; the other ${accepted.length} were accepted and must not be resent`;
  return jsonResponse(400, { success: false, message, accepted: accepted.length, rejected }, CORS);
}

/** A rejected event of `request`, without its payload. */
function badEventOf(request: AuthenticatedRequest, id: string, reason: string): Omit<BadEvent, 'payload'> {
  return { id: `ingest/${id}`, source: 'ingest', reason, sourceId: request.sourceId, arrivedAt: request.receivedAt };
}

/** Stores rejected events; a failure is logged and counted, never passed on (the client's answer does not depend on it). */
async function record(events: BadEvent[], deps: IngestDeps): Promise<void> {
  try {
    await deps.badEvents.putAll(events);
  } catch (error) {
    deps.metrics.addMetric('BadEventsNotRecorded', MetricUnit.Count, events.length);
    deps.logger.error('Rejected events could not be recorded', { count: events.length, error: error as Error });
  }
}

/** A rejected message as JSON; one too deeply nested to serialize is described instead. */
function payloadOf(message: unknown): string {
  try {
    return JSON.stringify(message) ?? String(message);
  } catch {
    return '(not serializable: nested too deeply)';
  }
}

/** A body as text, with any `"writeKey": "…"` member's value removed (a credential is never stored). */
function redactWriteKeys(text: string): string {
  return text.replace(/("writeKey"\s*:\s*)"(?:[^"\\]|\\.)*"/g, '$1"[redacted]"');
}

/** A count with one more dimension than the function's (`service`): one metric line of its own. */
function countBy(metrics: Metrics, name: string, dimension: string, value: string, count: number): void {
  const single = metrics.singleMetric();
  single.addDimension(dimension, value);
  single.addMetric(name, MetricUnit.Count, count);
}

/** Checks `writeKey` and marks the request as sent by it. */
async function authenticate(writeKey: string, deps: IngestDeps, request: RequestInfo): Promise<void> {
  if (!(await deps.writeKeys.matches(writeKey))) throw new RequestError(401, 'Invalid write key');
  request.sourceId = sourceIdOf(writeKey);
}
