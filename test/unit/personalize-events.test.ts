import { INTERACTION_WEIGHTS } from '../../lambdas/shared/domain/commerce';
import { eventIdOf, interactionsOf, PersonalizeInteraction, PUT_EVENTS_MAX_EVENTS, toPutEventsBatches } from '../../lambdas/shared/domain/personalize-events';
import { identify, MINUTE, orderCompleted, page, product, productAdded, productRemoved, productViewed, T0, track } from '../support/events';

describe('interactionsOf', () => {
  it('maps an item interaction to one Personalize event, timed when it happened', () => {
    const event = productViewed('p1', 'Shoes', { userId: 'u1', anonymousId: 'a1', messageId: 'm1', at: T0 - 5 * MINUTE, receivedAt: T0 });
    expect(interactionsOf(event)).toEqual([
      {
        userId: 'u1',
        sessionId: 'a1',
        event: { eventId: eventIdOf('m1', 'p1'), eventType: 'Product Viewed', eventValue: INTERACTION_WEIGHTS['Product Viewed'], itemId: 'p1', sentAt: new Date(T0 - 5 * MINUTE) },
      },
    ]);
  });

  it('uses the anonymous id as the session, and the user id when there is no anonymous id', () => {
    expect(interactionsOf(productAdded('p1', {}, { anonymousId: 'a1' }))[0]).toMatchObject({ sessionId: 'a1' });
    expect(interactionsOf(productAdded('p1', {}, { anonymousId: 'a1' }))[0]).not.toHaveProperty('userId');
    expect(interactionsOf(productAdded('p1', {}, { userId: 'u1' }))[0]).toMatchObject({ userId: 'u1', sessionId: 'u1' });
  });

  it('gives an order one event per distinct product, each with the order weight and its own id', () => {
    const order = orderCompleted({ revenue: 30, products: [product('p1'), product('p2', { quantity: 2 }), product('p1', { variant: 'red' }), { name: 'no id' }] }, { messageId: 'o1' });
    const events = interactionsOf(order).map((i) => i.event);
    expect(events.map((e) => [e.itemId, e.eventType, e.eventValue])).toEqual([
      ['p1', 'Order Completed', INTERACTION_WEIGHTS['Order Completed']],
      ['p2', 'Order Completed', INTERACTION_WEIGHTS['Order Completed']],
    ]);
    expect(events.map((e) => e.eventId)).toEqual([eventIdOf('o1', 'p1'), eventIdOf('o1', 'p2')]);
  });

  it.each([
    ['an identify call', identify({ email: 'a@example.com' })],
    ['a page call, even with a product id', page('Home', { product_id: 'p1' })],
    ['a track event without items', track('Product Viewed', { name: 'no id' })],
    ['an order without products', orderCompleted({ revenue: 10 })],
    ['an event outside the interaction vocabulary', track('Signed Up', { product_id: 'p1' })],
    ['a removal (weight 0, which Personalize would read as interest)', productRemoved('p1')],
    ['an event named like an Object.prototype member', track('constructor', { product_id: 'p1' })],
  ])('skips %s', (_, event) => {
    expect(interactionsOf(event)).toEqual([]);
  });

  it('derives event ids deterministically from the message and the item, within Personalize limits', () => {
    const first = interactionsOf(productViewed('p1', undefined, { messageId: 'm1' }))[0].event.eventId;
    const replay = interactionsOf(productViewed('p1', undefined, { messageId: 'm1', at: T0 + MINUTE }))[0].event.eventId;
    expect(replay).toBe(first);
    expect(first).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(eventIdOf('m1', 'p2')).not.toBe(first);
    expect(eventIdOf('m2', 'p1')).not.toBe(first);
    // Unambiguous: the boundary between message id and item id is part of the hash.
    expect(eventIdOf('a:b', 'c')).not.toBe(eventIdOf('a', 'b:c'));
    expect(eventIdOf('x'.repeat(256), 'y'.repeat(256))).toHaveLength(43);
  });
});

const interaction = (sessionId: string, itemId: string, userId?: string): PersonalizeInteraction => ({
  ...(userId !== undefined ? { userId } : {}),
  sessionId,
  event: { eventId: `${sessionId}/${itemId}`, eventType: 'Product Viewed', eventValue: 1, itemId, sentAt: new Date(T0) },
});

describe('toPutEventsBatches', () => {
  it('puts one session per request, at most 10 events each, in input order', () => {
    const inputs = [
      ...Array.from({ length: 12 }, (_, i) => ({ source: `a${i}`, interactions: [interaction('s1', `p${i}`, 'u1')] })),
      { source: 'b0', interactions: [interaction('s2', 'q0')] },
    ];
    const batches = toPutEventsBatches(inputs);
    expect(batches.map((b) => [b.request.userId, b.request.sessionId, b.request.eventList.length])).toEqual([
      ['u1', 's1', 10],
      ['u1', 's1', 2],
      [undefined, 's2', 1],
    ]);
    expect(batches[0].request.eventList.map((e) => e.itemId)).toEqual(['p0', 'p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7', 'p8', 'p9']);
    expect(batches[0].sources).toEqual(['a0', 'a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7', 'a8', 'a9']);
    expect(batches[1].sources).toEqual(['a10', 'a11']);
    expect(batches[2].request).not.toHaveProperty('userId');
  });

  it('keeps one session with and without a user id apart (PutEvents takes one userId per call)', () => {
    const batches = toPutEventsBatches([
      { source: 1, interactions: [interaction('a1', 'p1')] },
      { source: 2, interactions: [interaction('a1', 'p2', 'u1')] },
      { source: 3, interactions: [interaction('a1', 'p3')] },
    ]);
    expect(batches.map((b) => [b.request.userId, b.request.sessionId, b.sources])).toEqual([
      [undefined, 'a1', [1, 3]],
      ['u1', 'a1', [2]],
    ]);
  });

  it('lists a large order in every request its events went into, and each source once per request', () => {
    const products = Array.from({ length: 23 }, (_, i) => product(`p${i}`));
    const order = { source: 'order', interactions: interactionsOf(orderCompleted({ products }, { userId: 'u1' })) };
    const batches = toPutEventsBatches([order]);
    expect(batches.map((b) => b.request.eventList.length)).toEqual([10, 10, 3]);
    expect(batches.map((b) => b.sources)).toEqual([['order'], ['order'], ['order']]);
    expect(batches.flatMap((b) => b.request.eventList.map((e) => e.itemId))).toEqual(products.map((p) => p.product_id));
  });

  it('never exceeds the PutEvents limit, whatever the mix', () => {
    const inputs = Array.from({ length: 200 }, (_, i) => ({ source: i, interactions: [interaction(`s${i % 7}`, `p${i}`, i % 3 === 0 ? 'u' : undefined)] }));
    const batches = toPutEventsBatches(inputs);
    for (const { request } of batches) {
      expect(request.eventList.length).toBeGreaterThanOrEqual(1);
      expect(request.eventList.length).toBeLessThanOrEqual(PUT_EVENTS_MAX_EVENTS);
      expect(new Set(request.eventList.map((e) => e.eventId.split('/')[0]))).toEqual(new Set([request.sessionId]));
    }
    expect(batches.reduce((n, b) => n + b.request.eventList.length, 0)).toBe(200);
  });

  it('makes no request for inputs without interactions', () => {
    expect(toPutEventsBatches([{ source: 'x', interactions: [] }])).toEqual([]);
  });
});
