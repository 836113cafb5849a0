import fc from 'fast-check';
import { EVENT_TYPES, LIMITS, StreamEventSchema } from '../../lambdas/shared/domain/event-schema';
import { RequestError } from '../../lambdas/shared/domain/errors';
import { correctedTimestamp, ingestMessages, IngestContext, ROUTES, sourceIdOf } from '../../lambdas/shared/domain/ingestion';
import { DAY, HOUR, iso, T0 } from '../support/events';

const ctx: IngestContext = { receivedAt: T0, sourceId: 'src_test' };

function nested(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = { n: value };
  return value;
}

describe('ROUTES', () => {
  it('maps the long routes analytics-node uses and the one-letter routes analytics.js uses', () => {
    expect(ROUTES).toMatchObject({
      track: 'track',
      page: 'page',
      screen: 'screen',
      identify: 'identify',
      alias: 'alias',
      group: 'group',
      batch: 'batch',
      t: 'track',
      p: 'page',
      s: 'screen',
      i: 'identify',
      a: 'alias',
      g: 'group',
      b: 'batch',
    });
    expect(Object.keys(ROUTES)).toHaveLength(14);
  });
});

describe('sourceIdOf', () => {
  it('is stable, distinct per key, and does not contain the key', () => {
    expect(sourceIdOf('secret-key')).toBe(sourceIdOf('secret-key'));
    expect(sourceIdOf('secret-key')).not.toBe(sourceIdOf('secret-key2'));
    expect(sourceIdOf('secret-key')).toMatch(/^src_[0-9a-f]{16}$/);
    expect(sourceIdOf('secret-key')).not.toContain('secret');
  });
});

describe('ingestMessages: single routes', () => {
  it('enriches a valid message into a stream event', () => {
    const { accepted, rejected } = ingestMessages('track', { event: 'Signed Up', userId: 'u1', messageId: 'm1', properties: { plan: 'pro' } }, ctx);
    expect(rejected).toEqual([]);
    expect(accepted).toHaveLength(1);
    const [event] = accepted;
    expect(event).toMatchObject({ type: 'track', event: 'Signed Up', userId: 'u1', messageId: 'm1', properties: { plan: 'pro' }, sourceId: 'src_test' });
    expect(event.receivedAt).toBe(iso(T0));
    expect(event.timestamp).toBe(iso(T0)); // no timestamp: the event happened when it was received
    expect(StreamEventSchema.safeParse(event).success).toBe(true);
  });

  it('takes the type from the route, whatever the body says', () => {
    const { accepted } = ingestMessages('identify', { type: 'track', userId: 'u1', traits: { a: 1 } }, ctx);
    expect(accepted[0].type).toBe('identify');
  });

  it('overrides client-sent enrichment fields', () => {
    const { accepted } = ingestMessages('identify', { userId: 'u1', receivedAt: '2020-01-01T00:00:00Z', sourceId: 'spoofed' }, ctx);
    expect(accepted[0].receivedAt).toBe(iso(T0));
    expect(accepted[0].sourceId).toBe('src_test');
  });

  it('never stores the write key sent in the body', () => {
    const { accepted } = ingestMessages('track', { writeKey: 'wk-secret', event: 'E', anonymousId: 'a1' }, ctx);
    expect(accepted).toHaveLength(1);
    expect(accepted[0]).not.toHaveProperty('writeKey');
    expect(JSON.stringify(accepted[0])).not.toContain('wk-secret');
  });

  it('rejects an invalid single message with index 0 and the reason', () => {
    const { accepted, rejected } = ingestMessages('track', { userId: 'u1', messageId: 'm1' }, ctx);
    expect(accepted).toEqual([]);
    expect(rejected).toEqual([{ index: 0, messageId: 'm1', reason: 'event: is required for track calls', kind: 'invalid-field' }]);
  });

  it.each([null, [], 'text', 42, true])('refuses the body %j as a whole with a 400', (body) => {
    let caught: unknown;
    try {
      ingestMessages('track', body, ctx);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(RequestError);
    expect((caught as RequestError).status).toBe(400);
  });
});

describe('ingestMessages: batch', () => {
  it.each([
    [{}, 'Batch requests need a "batch" array of events'],
    [{ batch: {} }, 'Batch requests need a "batch" array of events'],
    [{ batch: [] }, 'The "batch" array is empty'],
    [{ batch: Array(2501).fill(null) }, 'The "batch" array has 2501 events; send at most 2500 per request'],
  ])('refuses %j with a 400', (body, message) => {
    expect(() => ingestMessages('batch', body, ctx)).toThrow(new RequestError(400, message));
    try {
      ingestMessages('batch', body, ctx);
    } catch (error) {
      expect((error as RequestError).status).toBe(400);
    }
  });

  it('takes a batch of exactly the most events a request may carry', () => {
    const batch = Array.from({ length: LIMITS.maxBatchEvents }, (_, i) => ({ type: 'track', userId: `u${i}`, event: 'E' }));
    expect(ingestMessages('batch', { batch }, ctx).accepted).toHaveLength(LIMITS.maxBatchEvents);
  });

  it('applies batch-level context, integrations and sentAt to each event, the event-level values winning', () => {
    const body = {
      writeKey: 'wk',
      sentAt: iso(T0 - 10_000),
      context: { library: { name: 'analytics-node' }, locale: 'en-US', ip: '1.2.3.4' },
      integrations: { All: true, Mixpanel: false },
      batch: [
        { type: 'track', event: 'A', userId: 'u1', timestamp: iso(T0 - 20_000) },
        {
          type: 'track',
          event: 'B',
          userId: 'u1',
          timestamp: iso(T0 - 20_000),
          sentAt: iso(T0 - 15_000),
          context: { locale: 'fr-FR' },
          integrations: { Mixpanel: true },
        },
      ],
    };
    const { accepted, rejected } = ingestMessages('batch', body, ctx);
    expect(rejected).toEqual([]);
    const [a, b] = accepted;
    expect(a.context).toEqual({ library: { name: 'analytics-node' }, locale: 'en-US', ip: '1.2.3.4' });
    expect(a.integrations).toEqual({ All: true, Mixpanel: false });
    expect(a.sentAt).toBe(iso(T0 - 10_000));
    expect(b.context).toEqual({ library: { name: 'analytics-node' }, locale: 'fr-FR', ip: '1.2.3.4' });
    expect(b.integrations).toEqual({ All: true, Mixpanel: true });
    expect(b.sentAt).toBe(iso(T0 - 15_000));
    // Clock-skew correction used each event's own (merged) sentAt.
    expect(a.timestamp).toBe(iso(T0 - 10_000));
    expect(b.timestamp).toBe(iso(T0 - 5_000));
    for (const event of accepted) expect(event).not.toHaveProperty('writeKey');
  });

  it('never stores a write key, at the top of the batch or inside an event', () => {
    const body = { writeKey: 'wk-top', batch: [{ type: 'track', event: 'E', userId: 'u1', writeKey: 'wk-inner' }] };
    const { accepted } = ingestMessages('batch', body, ctx);
    expect(accepted).toHaveLength(1);
    expect(JSON.stringify(accepted)).not.toMatch(/wk-top|wk-inner|writeKey/);
  });

  it('accepts the good events of a batch and rejects the bad ones with their index and reason', () => {
    const body = {
      batch: [
        { type: 'track', event: 'Good 0', userId: 'u1' },
        { type: 'track', userId: 'u1', messageId: 'bad-1' },
        'not an object',
        { type: 'identify', anonymousId: 'a1' },
        { type: 'purchase', userId: 'u1' },
        { type: 'group', userId: 'u1' },
        { type: 'page', userId: 'u1', timestamp: '1999-12-31T23:59:59Z' },
      ],
    };
    const { accepted, rejected } = ingestMessages('batch', body, ctx);
    expect(accepted.map((e) => e.type)).toEqual(['track', 'identify']);
    expect(rejected).toEqual([
      { index: 1, messageId: 'bad-1', reason: 'event: is required for track calls', kind: 'invalid-field' },
      { index: 2, reason: 'Event must be a JSON object', kind: 'not-an-object' },
      { index: 4, reason: 'type must be one of track, page, screen, identify, alias, group', kind: 'invalid-field' },
      { index: 5, reason: 'groupId: is required for group calls', kind: 'invalid-field' },
      { index: 6, reason: expect.stringContaining('before 2000-01-01'), kind: 'bad-timestamp' },
    ]);
  });
});

describe('ingestMessages: size and nesting limits', () => {
  const sized = (bytes: number) => {
    const base = { type: 'track', event: 'E', userId: 'u1', properties: { pad: '' } };
    const pad = 'x'.repeat(bytes - Buffer.byteLength(JSON.stringify(base)));
    return { ...base, properties: { pad } };
  };

  it('accepts an event of exactly 32 KB and rejects one byte more', () => {
    const exact = sized(LIMITS.maxEventBytes);
    expect(Buffer.byteLength(JSON.stringify(exact))).toBe(LIMITS.maxEventBytes);
    expect(ingestMessages('batch', { batch: [exact] }, ctx).accepted).toHaveLength(1);
    const over = sized(LIMITS.maxEventBytes + 1);
    const { rejected } = ingestMessages('batch', { batch: [over] }, ctx);
    expect(rejected).toEqual([{ index: 0, reason: `Event is ${LIMITS.maxEventBytes + 1} bytes; the limit is ${LIMITS.maxEventBytes} bytes (32 KB)`, kind: 'too-large' }]);
  });

  it('counts bytes, not characters', () => {
    const base = { type: 'track', event: 'E', userId: 'u1', properties: { pad: '' } };
    const chars = Math.ceil((LIMITS.maxEventBytes - Buffer.byteLength(JSON.stringify(base))) / 3) + 1;
    const event = { ...base, properties: { pad: '€'.repeat(chars) } }; // 3 bytes each in UTF-8
    expect(JSON.stringify(event).length).toBeLessThan(LIMITS.maxEventBytes);
    expect(ingestMessages('batch', { batch: [event] }, ctx).rejected[0].reason).toMatch(/limit is 32768 bytes/);
  });

  it('accepts nesting up to 32 levels and rejects 33', () => {
    // The event object itself is level 1, so properties may nest 31 levels including itself.
    const ok = { type: 'track', event: 'E', userId: 'u1', properties: nested(31) };
    expect(ingestMessages('track', ok, ctx).accepted).toHaveLength(1);
    const deep = { type: 'track', event: 'E', userId: 'u1', properties: nested(32) };
    expect(ingestMessages('track', deep, ctx).rejected).toEqual([{ index: 0, reason: 'Event is nested deeper than 32 levels', kind: 'too-deep' }]);
  });

  it('rejects a 100,000-level event without throwing', () => {
    const hostile = { type: 'track', event: 'E', userId: 'u1', properties: nested(100_000) };
    let outcome: ReturnType<typeof ingestMessages> | undefined;
    expect(() => {
      outcome = ingestMessages('track', hostile, ctx);
    }).not.toThrow();
    expect(outcome?.accepted).toEqual([]);
    expect(outcome?.rejected[0].reason).toBe('Event is nested deeper than 32 levels');
  });

  it('measures the batch-level context as part of each event', () => {
    const { rejected } = ingestMessages('batch', { context: { deep: nested(40) }, batch: [{ type: 'identify', userId: 'u1' }] }, ctx);
    expect(rejected[0].reason).toBe('Event is nested deeper than 32 levels');
  });
});

describe('ingestMessages: clock-skew correction', () => {
  it('corrects as receivedAt - (sentAt - timestamp)', () => {
    // The device clock runs 1 hour fast: timestamp and sentAt are both an hour ahead; the event happened 30 s before sending.
    const skew = HOUR;
    const body = { event: 'E', userId: 'u1', timestamp: iso(T0 + skew - 30_000), sentAt: iso(T0 + skew) };
    const [event] = ingestMessages('track', body, ctx).accepted;
    expect(event.timestamp).toBe(iso(T0 - 30_000));
    expect(event.originalTimestamp).toBe(body.timestamp);
    expect(event.sentAt).toBe(body.sentAt);
  });

  it('keeps the millisecond arithmetic exact', () => {
    expect(correctedTimestamp('2024-05-01T12:00:00.123Z', '2024-05-01T12:00:01.456Z', 1_000_000_000_000)).toBe(1_000_000_000_000 - 1333);
  });

  it('trusts the timestamp without sentAt, and uses receivedAt without a timestamp', () => {
    expect(correctedTimestamp('2024-01-01T00:00:00Z', undefined, T0)).toBe(Date.UTC(2024, 0, 1));
    expect(correctedTimestamp(undefined, '2024-01-01T00:00:00Z', T0)).toBe(T0);
  });

  it('compares offsets correctly when timestamp and sentAt use different ones', () => {
    const body = { event: 'E', userId: 'u1', timestamp: '2024-05-01T14:00:00+02:00', sentAt: '2024-05-01T12:00:05Z' };
    expect(ingestMessages('track', body, ctx).accepted[0].timestamp).toBe(iso(T0 - 5_000));
  });

  it('rejects events before 2000 and more than 24 hours ahead, after correction', () => {
    const at = (timestamp: string, sentAt?: string) =>
      ingestMessages('track', { event: 'E', userId: 'u1', timestamp, ...(sentAt ? { sentAt } : {}) }, ctx);
    expect(at('1999-12-31T23:59:59.999Z').rejected[0].reason).toBe('timestamp 1999-12-31T23:59:59.999Z is before 2000-01-01 (after clock-skew correction)');
    expect(at('2000-01-01T00:00:00.000Z').accepted).toHaveLength(1);
    expect(at(iso(T0 + DAY)).accepted).toHaveLength(1);
    expect(at(iso(T0 + DAY + 1)).rejected[0].reason).toBe('timestamp is more than 24 hours in the future (after clock-skew correction)');
    // A 1970 device clock with sentAt in 1970 too is corrected to a sensible time ...
    expect(at('1970-01-01T00:00:00Z', '1970-01-01T00:01:00Z').accepted[0].timestamp).toBe(iso(T0 - 60_000));
    // ... and a timestamp far in the future is fine when sentAt shows the device clock is equally off.
    expect(at('2090-01-01T00:00:00Z', '2090-01-01T00:00:10Z').accepted[0].timestamp).toBe(iso(T0 - 10_000));
    // sentAt far ahead of the timestamp pushes the corrected time before 2000.
    expect(at('2000-01-01T00:00:00Z', '2030-01-01T00:00:00Z').rejected[0].reason).toMatch(/before 2000-01-01/);
  });

  it('corrects with the batch-level sentAt', () => {
    const body = { sentAt: iso(T0 + 2 * DAY), batch: [{ type: 'track', event: 'E', userId: 'u1', timestamp: iso(T0 + 2 * DAY - 1000) }] };
    const { accepted, rejected } = ingestMessages('batch', body, ctx);
    expect(rejected).toEqual([]);
    expect(accepted[0].timestamp).toBe(iso(T0 - 1000));
  });
});

describe('ingestMessages: derived message ids', () => {
  const body = { event: 'Product Viewed', anonymousId: 'a1', properties: { product_id: 'p1' }, timestamp: iso(T0 - 1000) };

  it('derives the same id from the same message and source (a client retry is de-duplicated)', () => {
    const first = ingestMessages('track', body, ctx).accepted[0].messageId;
    const retry = ingestMessages('track', { ...body }, { ...ctx, receivedAt: T0 + 5_000 }).accepted[0].messageId;
    expect(first).toMatch(/^gen-[0-9a-f]{32}$/);
    expect(retry).toBe(first);
  });

  it('derives different ids for different messages or sources', () => {
    const id = (b: object, c: IngestContext = ctx) => ingestMessages('track', b, c).accepted[0].messageId;
    const base = id(body);
    expect(id({ ...body, properties: { product_id: 'p2' } })).not.toBe(base);
    expect(id({ ...body, timestamp: iso(T0 - 2000) })).not.toBe(base);
    expect(id({ ...body, anonymousId: 'a2' })).not.toBe(base);
    expect(id(body, { ...ctx, sourceId: 'src_other' })).not.toBe(base);
    expect(ingestMessages('page', { anonymousId: 'a1', properties: { product_id: 'p1' }, timestamp: body.timestamp }, ctx).accepted[0].messageId).not.toBe(base);
  });

  it('keeps a client-sent messageId and treats an empty one as absent', () => {
    expect(ingestMessages('track', { ...body, messageId: 'client-1' }, ctx).accepted[0].messageId).toBe('client-1');
    expect(ingestMessages('track', { ...body, messageId: '' }, ctx).accepted[0].messageId).toMatch(/^gen-/);
  });
});

describe('ingestMessages: contract with the processor', () => {
  const value = fc.oneof(fc.string({ maxLength: 5 }), fc.integer(), fc.constant(null), fc.boolean(), fc.dictionary(fc.string({ maxLength: 3 }), fc.integer(), { maxKeys: 2 }));
  const field = (name: string, gen: fc.Arbitrary<unknown> = value) => fc.option(gen, { nil: undefined }).map((v) => (v === undefined ? {} : { [name]: v }));
  const message = fc
    .tuple(
      fc.constantFrom(...EVENT_TYPES),
      field('userId', fc.oneof(fc.string({ maxLength: 4 }), fc.integer(), fc.constant(''))),
      field('anonymousId', fc.string({ maxLength: 4 })),
      field('event', fc.oneof(value, fc.string({ minLength: 190, maxLength: 210 }))),
      field('messageId'),
      field('timestamp', fc.oneof(value, fc.integer({ min: Date.UTC(1999, 0), max: T0 + 2 * DAY }).map(iso))),
      field('sentAt', fc.integer({ min: T0 - DAY, max: T0 + DAY }).map(iso)),
      field('groupId'),
      field('previousId'),
      field('name'),
      field('traits'),
      field('receivedAt'),
      field('sourceId'),
    )
    .map(([type, ...parts]) => Object.assign({ type }, ...parts) as Record<string, unknown>);

  it('only accepts events that the processor re-validates successfully', () => {
    fc.assert(
      fc.property(fc.array(message, { minLength: 1, maxLength: 5 }), (batch) => {
        const { accepted, rejected } = ingestMessages('batch', { batch }, ctx);
        expect(accepted.length + rejected.length).toBe(batch.length);
        for (const event of accepted) {
          const result = StreamEventSchema.safeParse(event);
          if (!result.success) throw new Error(`accepted ${JSON.stringify(event)} but the processor refuses it: ${result.error.message}`);
        }
      }),
      { numRuns: 500 },
    );
  });
});
