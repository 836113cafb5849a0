import { CATALOG_LIMITS, parseItemId, validateCatalogUpsert } from '../../lambdas/shared/domain/catalog';
import { RequestError } from '../../lambdas/shared/domain/errors';

const NOW = Date.UTC(2024, 4, 1, 12);
const validate = (items: unknown[]) => validateCatalogUpsert({ items }, NOW);
/** The reason one item is rejected (and that it is the only outcome). */
function reasonFor(item: unknown): string {
  const { items, errors } = validate([item]);
  expect(items).toEqual([]);
  expect(errors).toHaveLength(1);
  return errors[0].reason;
}
const accepted = (item: unknown) => {
  const { items, errors } = validate([item]);
  expect(errors).toEqual([]);
  return items[0];
};
function requestError(body: unknown): RequestError {
  try {
    validateCatalogUpsert(body, NOW);
  } catch (error) {
    if (error instanceof RequestError) return error;
    throw error;
  }
  throw new Error('expected a RequestError');
}

describe('validateCatalogUpsert: items', () => {
  it('fills the defaults of a minimal item and stamps updatedAt', () => {
    const item = accepted({ itemId: 'p1', categories: [] });
    expect(item).toStrictEqual({ itemId: 'p1', categories: [], available: true, tags: [], attributes: {}, updatedAt: NOW });
  });

  it('keeps every field of a full item, normalized', () => {
    const item = accepted({
      itemId: '  p1 ',
      categories: ['Shoes ', 'running  shoes', 'shoes'],
      price: 12.5,
      available: false,
      tags: [' sale', 'sale', 'New'],
      attributes: { brand: 'Acme', sizes: [40, 41], nested: { a: null } },
      createdAt: '2024-01-02T03:04:05.678+01:00',
    });
    expect(item).toStrictEqual({
      itemId: 'p1',
      categories: ['shoes', 'running shoes'],
      price: 12.5,
      available: false,
      tags: ['sale', 'New'],
      attributes: { brand: 'Acme', sizes: [40, 41], nested: { a: null } },
      createdAt: Date.UTC(2024, 0, 2, 2, 4, 5, 678),
      updatedAt: NOW,
    });
  });

  it('turns a numeric itemId into a string, as events do with product ids', () => {
    expect(accepted({ itemId: 42, categories: [] }).itemId).toBe('42');
    expect(accepted({ itemId: 1.5, categories: [] }).itemId).toBe('1.5');
  });

  it('reads null optional fields as absent', () => {
    const item = accepted({ itemId: 'p1', categories: [], price: null, available: null, tags: null, attributes: null, createdAt: null });
    expect(item).toStrictEqual({ itemId: 'p1', categories: [], available: true, tags: [], attributes: {}, updatedAt: NOW });
  });

  it('accepts a price of 0 and a createdAt without an offset (as UTC)', () => {
    const item = accepted({ itemId: 'p1', categories: [], price: 0, createdAt: '2024-05-01T00:00:00' });
    expect(item.price).toBe(0);
    expect(item.createdAt).toBe(Date.UTC(2024, 4, 1));
  });

  it.each([
    ['missing', {}, 'itemId: is required'],
    ['null', { itemId: null }, 'itemId: is required'],
    ['empty', { itemId: '' }, 'itemId: must not be empty'],
    ['blank', { itemId: '   ' }, 'itemId: must not be empty'],
    ['too long', { itemId: 'x'.repeat(257) }, 'itemId: must be at most 256 characters'],
    ['a boolean', { itemId: true }, 'itemId: must be a string or a number'],
    ['an object', { itemId: { id: 1 } }, 'itemId: must be a string or a number'],
  ])('rejects an itemId that is %s', (_label, fields, reason) => {
    expect(reasonFor({ categories: [], ...fields })).toBe(reason);
  });

  it('accepts an itemId of 256 characters (after trimming)', () => {
    expect(accepted({ itemId: ` ${'x'.repeat(256)} `, categories: [] }).itemId).toHaveLength(256);
  });

  describe('categories', () => {
    it('are required, as an array (possibly empty)', () => {
      expect(reasonFor({ itemId: 'p1' })).toBe('categories: is required (an array, possibly empty)');
      expect(reasonFor({ itemId: 'p1', categories: 'shoes' })).toBe('categories: must be an array of strings');
      expect(reasonFor({ itemId: 'p1', categories: null })).toBe('categories: must be an array of strings');
    });

    it('reject an invalid category instead of dropping it, naming its position', () => {
      expect(reasonFor({ itemId: 'p1', categories: ['shoes', 7] })).toBe('categories.1: must be a string');
      expect(reasonFor({ itemId: 'p1', categories: ['  '] })).toBe('categories.0: must be 1-100 characters after trimming');
      expect(reasonFor({ itemId: 'p1', categories: ['shoes', 'x'.repeat(101)] })).toBe('categories.1: must be 1-100 characters after trimming');
    });

    it('hold at most 20 distinct categories, counted after normalization', () => {
      const twenty = Array.from({ length: 20 }, (_, i) => `c${i}`);
      expect(accepted({ itemId: 'p1', categories: [...twenty, ...twenty.map((c) => c.toUpperCase())] }).categories).toEqual(twenty);
      expect(reasonFor({ itemId: 'p1', categories: [...twenty, 'c20'] })).toBe('categories: must hold at most 20 distinct categories');
    });
  });

  it.each([
    ['a negative price', { price: -0.01 }, 'price: must not be negative'],
    ['a price that is a string', { price: '12.50' }, 'price: must be a number'],
    ['available as a string', { available: 'false' }, 'available: must be true or false'],
    ['available as a number', { available: 0 }, 'available: must be true or false'],
    ['tags that are not an array', { tags: 'sale' }, 'tags: must be an array of strings'],
    ['a tag that is not a string', { tags: ['ok', 3] }, 'tags.1: must be a string'],
    ['a blank tag', { tags: [' '] }, 'tags.0: must not be empty'],
    ['a tag of 101 characters', { tags: ['x'.repeat(101)] }, 'tags.0: must be at most 100 characters'],
    ['attributes that are an array', { attributes: [1, 2] }, 'attributes: must be a JSON object'],
    ['attributes that are a string', { attributes: 'brand=acme' }, 'attributes: must be a JSON object'],
    ['createdAt as epoch ms', { createdAt: 1714564800000 }, 'createdAt: must be an ISO-8601 date-time string'],
    ['createdAt that is not ISO-8601', { createdAt: 'yesterday' }, 'createdAt: must be an ISO-8601 date-time such as 2024-05-01T12:00:00.000Z'],
    ['createdAt on a day that does not exist', { createdAt: '2024-02-31T00:00:00Z' }, 'createdAt: must be an ISO-8601 date-time such as 2024-05-01T12:00:00.000Z'],
    ['an unknown field', { category: 'shoes' }, 'unknown field category (custom data belongs in attributes)'],
    ['several unknown fields', { availabel: false, brand: 'x' }, 'unknown fields availabel, brand (custom data belongs in attributes)'],
  ])('rejects an item with %s', (_label, fields, reason) => {
    expect(reasonFor({ itemId: 'p1', categories: [], ...fields })).toBe(reason);
  });

  it('holds at most 50 distinct tags, counted after removing duplicates', () => {
    const fifty = Array.from({ length: 50 }, (_, i) => `t${i}`);
    expect(accepted({ itemId: 'p1', categories: [], tags: [...fifty, ...fifty] }).tags).toEqual(fifty);
    expect(reasonFor({ itemId: 'p1', categories: [], tags: [...fifty, 't50'] })).toBe('tags: must hold at most 50 distinct tags');
  });

  it('bounds attributes at 16 KB of JSON', () => {
    const overhead = Buffer.byteLength(JSON.stringify({ a: '' }));
    const fits = { a: 'x'.repeat(CATALOG_LIMITS.maxAttributesBytes - overhead) };
    expect(accepted({ itemId: 'p1', categories: [], attributes: fits }).attributes).toEqual(fits);
    expect(reasonFor({ itemId: 'p1', categories: [], attributes: { a: `${fits.a}x` } })).toBe(
      'attributes: is 16385 bytes as JSON; the limit is 16384 bytes (16 KB)',
    );
  });

  it('refuses deeply nested attributes without overflowing the stack', () => {
    let deep: unknown = 'leaf';
    for (let i = 0; i < 100_000; i++) deep = { d: deep };
    expect(reasonFor({ itemId: 'p1', categories: [], attributes: deep })).toBe('attributes: must not be nested deeper than 32 levels');
  });

  it.each([['a string', 'p1'], ['null', null], ['an array', [{ itemId: 'p1' }]], ['a number', 7]])('rejects an item that is %s', (_label, item) => {
    expect(validate([item]).errors).toEqual([{ index: 0, reason: 'Item must be a JSON object' }]);
  });

  it('lists every problem of an item in one reason', () => {
    expect(reasonFor({ itemId: 'p1', categories: [1], price: -1, colour: 'red' })).toBe(
      'categories.0: must be a string; price: must not be negative; unknown field colour (custom data belongs in attributes)',
    );
  });
});

describe('validateCatalogUpsert: batches', () => {
  it('keeps the valid items in order and lists each rejected one by index, with its itemId when it has one', () => {
    const { items, errors } = validate([
      { itemId: 'a', categories: ['x'] },
      { itemId: 'b', categories: ['x'], price: -1 },
      { categories: [] },
      { itemId: 'c', categories: [] },
    ]);
    expect(items.map((i) => i.itemId)).toEqual(['a', 'c']);
    expect(errors).toEqual([
      { index: 1, itemId: 'b', reason: 'price: must not be negative' },
      { index: 2, reason: 'itemId: is required' },
    ]);
  });

  it('rejects every occurrence of an itemId repeated in one request, ids compared after normalization', () => {
    const { items, errors } = validate([
      { itemId: '1', categories: [] },
      { itemId: 'ok', categories: [] },
      { itemId: ' 1 ', categories: [], price: 2 },
      { itemId: 1, categories: [], price: -1 },
    ]);
    expect(items.map((i) => i.itemId)).toEqual(['ok']);
    const repeated = 'itemId appears more than once in this request (items 0, 2, 3); send each item once';
    expect(errors).toEqual([
      { index: 0, itemId: '1', reason: repeated },
      { index: 2, itemId: '1', reason: repeated },
      { index: 3, itemId: '1', reason: `price: must not be negative; ${repeated}` },
    ]);
  });

  it('accepts 500 items', () => {
    const items = Array.from({ length: 500 }, (_, i) => ({ itemId: `p${i}`, categories: [] }));
    expect(validate(items).items).toHaveLength(500);
  });

  it.each([
    ['a bare array', [{ itemId: 'p1', categories: [] }], 'Request body must be an object {"items": [...]}, not a bare array'],
    ['not an object', 'items', 'Request body must be a JSON object {"items": [...]}'],
    ['null', null, 'Request body must be a JSON object {"items": [...]}'],
    ['without items', {}, 'Request body needs an "items" array'],
    ['with items not an array', { items: { itemId: 'p1' } }, 'Request body needs an "items" array'],
    ['with no items', { items: [] }, 'The "items" array is empty'],
    ['with an unknown field', { items: [{ itemId: 'p1', categories: [] }], upsert: true }, 'Unknown field upsert in the request body; expected {"items": [...]}'],
    [
      'with more than 500 items',
      { items: Array.from({ length: 501 }, (_, i) => ({ itemId: `p${i}`, categories: [] })) },
      'The "items" array holds 501 items; send at most 500 per request',
    ],
  ])('refuses a body %s as a whole (400)', (_label, body, message) => {
    const error = requestError(body);
    expect(error.status).toBe(400);
    expect(error.message).toBe(message);
  });
});

describe('parseItemId', () => {
  it('normalizes as in a body', () => {
    expect(parseItemId(' p1 ')).toBe('p1');
    expect(parseItemId('a/b c%')).toBe('a/b c%');
  });

  it.each([
    ['a blank id', '  ', 'itemId must not be empty'],
    ['an id of 257 characters', 'x'.repeat(257), 'itemId must be at most 256 characters'],
  ])('refuses %s with a 400', (_label, value, message) => {
    expect(() => parseItemId(value)).toThrow(message);
    expect(() => parseItemId(value)).toThrow(RequestError);
  });
});
