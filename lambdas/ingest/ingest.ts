import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { LIMITS } from '../shared/domain/event-schema';
import { RequestError } from '../shared/domain/errors';
import { ingestMessages, IngestRoute, ROUTES, sourceIdOf } from '../shared/domain/ingestion';
import { isPlainObject } from '../shared/domain/json';
import { basicAuthUser, checkContentType, errorResponse, header, jsonResponse, parseJson, readBody } from '../shared/http';
import type { EventStream } from '../shared/store/event-stream';
import type { KeyStore } from '../shared/store/key-store';

export interface IngestDeps {
  stream: EventStream;
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
 */
export async function handleIngest(event: APIGatewayProxyEvent, deps: IngestDeps): Promise<APIGatewayProxyResult> {
  try {
    const route = ROUTES[event.resource.split('/').pop() ?? ''];
    if (!route) throw new RequestError(404, `No ingestion route ${event.resource}`);

    const headerKey = basicAuthUser(header(event, 'authorization'));
    if (headerKey !== undefined) await authenticate(headerKey, deps);
    checkContentType(event, ACCEPTED_MEDIA_TYPES, 'application/json (or text/plain holding JSON)');
    const body = parseJson(readBody(event, LIMITS.maxBatchBytes));
    const writeKey = headerKey ?? (isPlainObject(body) && typeof body.writeKey === 'string' ? body.writeKey : undefined);
    if (writeKey === undefined) {
      throw new RequestError(401, 'Missing write key: send HTTP Basic authentication with the write key as the user name');
    }
    if (headerKey === undefined) await authenticate(writeKey, deps);

    return await accept(route, body, sourceIdOf(writeKey), deps);
  } catch (error) {
    if (error instanceof RequestError) {
      deps.metrics.addMetric('RequestsRejected', MetricUnit.Count, 1);
      deps.logger.info('Request rejected', { status: error.status, reason: error.message });
      return errorResponse(error, 'ingest', CORS);
    }
    deps.logger.error('Ingestion failed', error as Error);
    return jsonResponse(500, { success: false, message: 'Internal error; retry the request' }, CORS);
  }
}

async function accept(route: IngestRoute, body: unknown, sourceId: string, deps: IngestDeps): Promise<APIGatewayProxyResult> {
  const { accepted, rejected } = ingestMessages(route, body, { receivedAt: deps.now(), sourceId });

  if (accepted.length > 0) {
    const { failed, lastError } = await deps.stream.put(accepted);
    if (failed.length > 0) {
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
  deps.logger.info('Events rejected', { accepted: accepted.length, rejected });
  const message =
    accepted.length === 0
      ? route === 'batch'
        ? `All ${rejected.length} events were rejected`
        : rejected[0].reason
      : `${rejected.length} of ${rejected.length + accepted.length} events were rejected; the other ${accepted.length} were accepted and must not be resent`;
  return jsonResponse(400, { success: false, message, accepted: accepted.length, rejected }, CORS);
}

async function authenticate(writeKey: string, deps: IngestDeps): Promise<void> {
  if (!(await deps.writeKeys.matches(writeKey))) throw new RequestError(401, 'Invalid write key');
}
