import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { CATALOG_LIMITS, parseItemId, validateCatalogUpsert } from '../shared/domain/catalog';
import { RequestError } from '../shared/domain/errors';
import { checkContentType, dispatch, errorResponse, jsonResponse, parseJson, pathParameter, readBody, Route } from '../shared/http';
import type { CatalogStore } from '../shared/store/catalog-store';

export interface ItemsDeps {
  catalog: CatalogStore;
  now: () => number;
  logger: Logger;
  metrics: Metrics;
}

/** JSON only (a body without a Content-Type is read as JSON). */
const ACCEPTED_MEDIA_TYPES: ReadonlySet<string> = new Set(['application/json']);

/** The methods of each resource (API Gateway resource paths). */
const ROUTES: Record<string, Record<string, Route<ItemsDeps>>> = {
  '/v1/items': { PUT: upsertItems },
  '/v1/items/{itemId}': { DELETE: deleteItem },
};

/**
 * The item catalog (IAM authorization: SigV4-signed requests):
 * - `PUT /v1/items` with `{ "items": [ … ] }` (see `domain/catalog.ts`) upserts whole items: 200
 *   `{ success, upserted }`. A batch with invalid items gets a 400 listing each rejected item's index and reason;
 *   the valid items of that batch *are* written, and the response says how many (`accepted`).
 * - `DELETE /v1/items/{itemId}`: 200 `{ success, deleted }`, `deleted: false` when the catalog did not hold the
 *   item, so a retried delete succeeds too. The id is hidden from recommendations either way.
 */
export async function handleItems(event: APIGatewayProxyEvent, deps: ItemsDeps): Promise<APIGatewayProxyResult> {
  try {
    return await dispatch(event, ROUTES, deps, 'admin');
  } catch (error) {
    if (error instanceof RequestError) {
      deps.logger.info('Catalog request refused', { status: error.status, reason: error.message });
      return errorResponse(error, 'admin');
    }
    deps.logger.error('Catalog request failed', error as Error);
    return jsonResponse(500, { success: false, message: 'Internal error; retry the request' });
  }
}

async function upsertItems(event: APIGatewayProxyEvent, deps: ItemsDeps): Promise<APIGatewayProxyResult> {
  checkContentType(event, ACCEPTED_MEDIA_TYPES, 'application/json');
  const body = parseJson(readBody(event, CATALOG_LIMITS.maxRequestBytes));
  const { items, errors } = validateCatalogUpsert(body, deps.now());
  if (items.length > 0) await deps.catalog.upsert(items);
  deps.metrics.addMetric('CatalogItemsUpserted', MetricUnit.Count, items.length);
  if (errors.length === 0) return jsonResponse(200, { success: true, upserted: items.length });

  deps.metrics.addMetric('CatalogItemsRejected', MetricUnit.Count, errors.length);
  deps.logger.info('Catalog items rejected', { accepted: items.length, rejected: errors });
  const message =
    items.length === 0
      ? `All ${errors.length} items were rejected`
      : `${errors.length} of ${errors.length + items.length} items were rejected; the other ${items.length} were written`;
  return jsonResponse(400, { success: false, message, accepted: items.length, rejected: errors });
}

async function deleteItem(event: APIGatewayProxyEvent, deps: ItemsDeps): Promise<APIGatewayProxyResult> {
  const itemId = parseItemId(pathParameter(event, 'itemId'));
  const deleted = await deps.catalog.delete(itemId);
  deps.metrics.addMetric(deleted ? 'CatalogItemsDeleted' : 'CatalogItemsNotFound', MetricUnit.Count, 1);
  return jsonResponse(200, { success: true, deleted });
}
