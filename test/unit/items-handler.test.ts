import { gzipSync } from 'node:zlib';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { handleItems, ItemsDeps } from '../../lambdas/items/items';
import { RequestError } from '../../lambdas/shared/domain/errors';
import { InMemoryCatalogStore } from '../support/in-memory-catalog-store';
import { apiEvent, jsonBody, RequestOptions } from '../support/http';
import { disabledMetrics, recordMetrics, silentLogger } from '../support/powertools';

const NOW = Date.UTC(2024, 4, 1, 12);

function setup() {
  const catalog = new InMemoryCatalogStore();
  const metrics = disabledMetrics();
  const recorded = recordMetrics(metrics);
  const deps: ItemsDeps = { catalog, now: () => NOW, logger: silentLogger(), metrics };
  const call = (opts: RequestOptions) => handleItems(apiEvent({ ...opts }), deps);
  const put = (body: unknown, headers: Record<string, string> = {}) =>
    call({
      resource: '/v1/items',
      method: 'PUT',
      headers: { 'Content-Type': 'application/json', ...headers },
      body: Buffer.isBuffer(body) ? body : jsonBody(body),
    });
  const del = (itemId: string | null) =>
    call({ resource: '/v1/items/{itemId}', method: 'DELETE', pathParameters: itemId === null ? null : { itemId } });
  return { catalog, deps, recorded, call, put, del };
}
const bodyOf = (response: APIGatewayProxyResult) => JSON.parse(response.body);

describe('PUT /v1/items', () => {
  it('upserts the items and answers how many', async () => {
    const { put, catalog, recorded } = setup();
    const response = await put({ items: [{ itemId: 'p1', categories: ['Shoes'], price: 10 }, { itemId: 'p2', categories: [], available: false }] });
    expect(response.statusCode).toBe(200);
    expect(bodyOf(response)).toEqual({ success: true, upserted: 2 });
    expect(catalog.peek('p1')).toEqual({ itemId: 'p1', categories: ['shoes'], price: 10, available: true, tags: [], attributes: {}, updatedAt: NOW });
    expect(catalog.peekUnavailable()).toEqual(new Set(['p2']));
    expect(recorded.get('CatalogItemsUpserted')).toBe(2);
  });

  it('writes the valid items of a partly invalid batch and answers 400 with each rejected index', async () => {
    const { put, catalog, recorded } = setup();
    const response = await put({ items: [{ itemId: 'p1', categories: [] }, { itemId: 'p2', categories: [], price: -1 }, { categories: [] }] });
    expect(response.statusCode).toBe(400);
    expect(bodyOf(response)).toEqual({
      success: false,
      message: '2 of 3 items were rejected; the other 1 were written',
      accepted: 1,
      rejected: [
        { index: 1, itemId: 'p2', reason: 'price: must not be negative' },
        { index: 2, reason: 'itemId: is required' },
      ],
    });
    expect(catalog.peek('p1')).toBeDefined();
    expect(catalog.peek('p2')).toBeUndefined();
    expect(recorded.get('CatalogItemsRejected')).toBe(2);
  });

  it('writes nothing when every item is rejected', async () => {
    const { put, catalog } = setup();
    const response = await put({ items: [{ itemId: 'p1' }, 'p2'] });
    expect(response.statusCode).toBe(400);
    expect(bodyOf(response)).toMatchObject({ message: 'All 2 items were rejected', accepted: 0 });
    expect(catalog.calls.upsert).toBe(0);
  });

  it('accepts a gzip body and a body without a Content-Type', async () => {
    const { put, call } = setup();
    const body = jsonBody({ items: [{ itemId: 'p1', categories: [] }] });
    expect((await put(gzipSync(body), { 'Content-Encoding': 'gzip' })).statusCode).toBe(200);
    expect((await call({ resource: '/v1/items', method: 'PUT', body })).statusCode).toBe(200);
  });

  it.each([
    ['a bare array', jsonBody([{ itemId: 'p1', categories: [] }]), 400, 'Request body must be an object {"items": [...]}, not a bare array'],
    ['malformed JSON', Buffer.from('{"items": ['), 400, 'Malformed JSON'],
    ['an empty body', Buffer.alloc(0), 400, 'Request body is empty'],
    ['a body over 1 MB', jsonBody({ items: [{ itemId: 'p1', categories: [], attributes: { a: 'x'.repeat(1024 * 1024) } }] }), 413, 'Request body is larger than 1048576 bytes'],
  ])('refuses %s', async (_label, body, status, message) => {
    const { put, catalog } = setup();
    const response = await put(body);
    expect(response.statusCode).toBe(status);
    expect(bodyOf(response).message).toContain(message);
    expect(catalog.calls.upsert).toBe(0);
  });

  it('refuses a body that is not JSON (415)', async () => {
    const { put } = setup();
    const response = await put({ items: [] }, { 'Content-Type': 'application/x-www-form-urlencoded' });
    expect(response.statusCode).toBe(415);
    expect(bodyOf(response).message).toBe('Unsupported Content-Type "application/x-www-form-urlencoded": send application/json');
  });

  it('passes on the 409 of a full unavailable set', async () => {
    const { put, catalog } = setup();
    catalog.beforeUpsert = () => {
      throw new RequestError(409, 'The unavailable-items set has no room');
    };
    const response = await put({ items: [{ itemId: 'p1', categories: [], available: false }] });
    expect(response.statusCode).toBe(409);
    expect(bodyOf(response)).toEqual({ success: false, message: 'The unavailable-items set has no room' });
  });

  it('answers 500 JSON, without throwing, when the store fails', async () => {
    const { put, catalog } = setup();
    catalog.beforeUpsert = () => {
      throw new Error('DynamoDB unavailable');
    };
    const response = await put({ items: [{ itemId: 'p1', categories: [] }] });
    expect(response.statusCode).toBe(500);
    expect(bodyOf(response)).toEqual({ success: false, message: 'Internal error; retry the request' });
  });
});

describe('DELETE /v1/items/{itemId}', () => {
  it('deletes an item and hides it from recommendations', async () => {
    const { put, del, catalog, recorded } = setup();
    await put({ items: [{ itemId: 'p1', categories: [] }] });
    const response = await del('p1');
    expect(response.statusCode).toBe(200);
    expect(bodyOf(response)).toEqual({ success: true, deleted: true });
    expect(catalog.peek('p1')).toBeUndefined();
    expect(catalog.peekUnavailable()).toEqual(new Set(['p1']));
    expect(recorded.get('CatalogItemsDeleted')).toBe(1);
  });

  it('answers 200 with deleted: false for an item the catalog does not hold, so a retried delete succeeds', async () => {
    const { del, catalog, recorded } = setup();
    const response = await del('nothing');
    expect(response.statusCode).toBe(200);
    expect(bodyOf(response)).toEqual({ success: true, deleted: false });
    expect(catalog.peekUnavailable()).toEqual(new Set(['nothing']));
    expect(recorded.get('CatalogItemsNotFound')).toBe(1);
  });

  it('decodes a percent-encoded itemId, and uses one that is not valid encoding as it is', async () => {
    const { put, del, catalog } = setup();
    await put({ items: [{ itemId: 'a/b c%', categories: [] }, { itemId: '100%', categories: [] }] });
    expect(bodyOf(await del(encodeURIComponent('a/b c%'))).deleted).toBe(true);
    expect(bodyOf(await del('100%')).deleted).toBe(true);
    expect(catalog.peek('a/b c%')).toBeUndefined();
    expect(catalog.peek('100%')).toBeUndefined();
  });

  it.each([
    ['a blank itemId', '%20%20', 'itemId must not be empty'],
    ['no itemId', null, 'Missing path parameter itemId'],
  ])('answers 400 for %s', async (_label, itemId, message) => {
    const { del, catalog } = setup();
    const response = await del(itemId);
    expect(response.statusCode).toBe(400);
    expect(bodyOf(response).message).toBe(message);
    expect(catalog.calls.delete).toBe(0);
  });
});

describe('routing and credentials', () => {
  it.each([
    ['GET', '/v1/items', 'PUT'],
    ['POST', '/v1/items', 'PUT'],
    ['PUT', '/v1/items/{itemId}', 'DELETE'],
  ])('answers 405 to %s %s, naming the allowed method', async (method, resource, allowed) => {
    const { call } = setup();
    const response = await call({ resource, method, pathParameters: { itemId: 'p1' } });
    expect(response.statusCode).toBe(405);
    expect(response.headers?.Allow).toBe(allowed);
    expect(bodyOf(response).message).toBe(`${method} is not allowed on ${resource}; use ${allowed}`);
  });

  it('answers 404 to a resource it does not serve', async () => {
    const { call } = setup();
    const response = await call({ resource: '/v1/items/{itemId}/tags', method: 'GET' });
    expect(response.statusCode).toBe(404);
  });
});
