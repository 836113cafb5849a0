import { CONSENT_EVENT, DEFAULT_CONSENT_SETTINGS } from '../../lambdas/shared/domain/consent';
import { EXPOSURE_EVENT, handleRecommend, RecommendDeps } from '../../lambdas/recommend/recommend';
import { StreamEvent } from '../../lambdas/shared/domain/event-schema';
import { Interaction } from '../../lambdas/shared/domain/model';
import { applyBatch, ProfileRecord } from '../../lambdas/shared/domain/profile-record';
import { RecommendConfig, resolveRecommendConfig } from '../../lambdas/shared/domain/recommend-config';
import { DEFAULT_PROFILE_SETTINGS } from '../../lambdas/shared/domain/settings';
import { trainModel } from '../../lambdas/shared/domain/training';
import type { EventStream } from '../../lambdas/shared/store/event-stream';
import { DAY, HOUR, T0, track } from '../support/events';
import { apiEvent } from '../support/http';
import { InMemoryIdentityStore } from '../support/in-memory-identity-store';
import { InMemoryModelStore } from '../support/in-memory-model-store';
import { InMemoryProfileStore } from '../support/in-memory-profile-store';
import { disabledMetrics, recordMetrics, recordSingleMetrics, silentLogger } from '../support/powertools';


/**
 * A small shop: shoes s1..s4 bought together (s1 with s2, s3 with s4), books b1..b3 read together, and
 * popularity skewed toward b1 (many readers). Trained with the real training module.
 */
function shopInteractions(): Interaction[] {
  const rows: Interaction[] = [];
  const add = (subject: string, itemId: string, category: string, at = T0 - DAY) =>
    rows.push({ subject, itemId, event: 'Order Completed', at, categories: [category] });
  for (let u = 0; u < 8; u++) {
    add(`shoe-a-${u}`, 's1', 'shoes');
    add(`shoe-a-${u}`, 's2', 'shoes');
    add(`shoe-b-${u}`, 's3', 'shoes');
    add(`shoe-b-${u}`, 's4', 'shoes');
  }
  for (let u = 0; u < 20; u++) {
    add(`reader-${u}`, 'b1', 'books', T0 - HOUR);
    if (u % 2 === 0) add(`reader-${u}`, 'b2', 'books');
    if (u % 4 === 0) add(`reader-${u}`, 'b3', 'books');
  }
  return rows;
}

const model = trainModel(shopInteractions(), { clock: () => T0 });

interface SetupOptions {
  config?: RecommendConfig;
  personalize?: RecommendDeps['personalize'];
  withModel?: boolean;
  streamFails?: boolean;
}

function setup(opts: SetupOptions = {}) {
  const profiles = new InMemoryProfileStore();
  const models = new InMemoryModelStore(opts.withModel === false ? undefined : model, 'v1');
  const written: StreamEvent[] = [];
  const events: EventStream = {
    put: async (batch) => {
      if (opts.streamFails) return { failed: [...batch], lastError: 'ProvisionedThroughputExceededException' };
      written.push(...batch);
      return { failed: [] };
    },
  };
  const metrics = disabledMetrics();
  const recorded = recordMetrics(metrics);
  let ids = 0;
  const deps: RecommendDeps = {
    profiles,
    identities: new InMemoryIdentityStore(),
    model: models,
    events,
    config: resolveRecommendConfig(opts.config ?? {}, { personalizeAvailable: opts.personalize !== undefined }),
    consent: DEFAULT_CONSENT_SETTINGS,
    affinityHalfLifeDays: 14,
    ...(opts.personalize ? { personalize: opts.personalize } : {}),
    now: () => T0,
    newId: () => `rec-${++ids}`,
    logger: silentLogger(),
    metrics,
  };
  const seed = (profileId: string, evs: StreamEvent[], writtenAt = T0) => {
    const record = applyBatch(undefined, profileId, evs, DEFAULT_PROFILE_SETTINGS, writtenAt).next as ProfileRecord;
    profiles.seed(record);
    return record;
  };
  const get = async (query: Record<string, string>) => {
    const response = await handleRecommend(
      apiEvent({ resource: '/v1/recommendations', method: 'GET', queryStringParameters: query }),
      deps,
    );
    return { response, body: JSON.parse(response.body) };
  };
  return { profiles, models, written, recorded, seed, get, deps };
}

const ids = (body: { items: Array<{ itemId: string }> }) => body.items.map((i) => i.itemId);
const bought = (itemId: string, category: string, at = T0 - HOUR) => track('Order Completed', { products: [{ product_id: itemId, category }] }, { userId: 'u1', at });
const viewed = (itemId: string, category: string, at = T0 - HOUR) => track('Product Viewed', { product_id: itemId, category }, { userId: 'u1', at });

describe('GET /v1/recommendations', () => {
  it.each([
    [{}, 'userId or anonymousId'],
    [{ userId: 'u1', limit: '0' }, 'limit'],
    [{ userId: 'u1', limit: '101' }, 'limit'],
    [{ userId: 'u1', limit: 'ten' }, 'limit'],
    [{ userId: 'x'.repeat(257) }, 'userId'],
    [{ userId: 'u1', category: 'c'.repeat(101) }, 'category'],
    [{ userId: 'u1', exclude: Array.from({ length: 101 }, (_, i) => `i${i}`).join(',') }, 'exclude'],
  ])('refuses %j with a 400 naming the problem', async (query, problem) => {
    const { response, body } = await setup().get(query as Record<string, string>);
    expect(response.statusCode).toBe(400);
    expect(body.message).toContain(problem);
  });

  it('counts each response by strategy and variant, and records the age of the model that served it', async () => {
    const { get, recorded, deps } = setup();
    const singles = recordSingleMetrics(deps.metrics);
    deps.now = () => T0 + 5 * HOUR;
    await get({ userId: 'nobody' });
    expect(singles).toEqual(['RecommendationsByStrategy strategy=hybrid variant=default: 1']);
    expect(recorded.get('ModelAgeHours')).toBeCloseTo(5);
    expect(recorded.get('RecommendationsServed')).toBe(1);
  });

  it('expands what the person just did through the model, in two reads', async () => {
    const { seed, get, profiles, models } = setup();
    seed('user#u1', [viewed('s1', 'shoes')]);
    const { response, body } = await get({ userId: 'u1', limit: '3' });
    expect(response.statusCode).toBe(200);
    expect(body).toMatchObject({ recommendationId: 'rec-1', strategy: 'hybrid', variant: 'default', modelVersion: 'v1' });
    expect(body.items[0]).toMatchObject({ itemId: 's2' });
    expect(body.items[0].reasons).toContain('similar:s1');
    expect(body.items).toHaveLength(3);
    expect(profiles.calls.get).toBe(1);
    expect(models.calls).toEqual({ servingState: 1, lists: 1 });
  });

  it('serves the non-personalized list to a person without personalization consent, by any of their linked ids', async () => {
    const { seed, get, deps } = setup();
    const withdrawn = { consent: { categoryPreferences: { Personalization: false } } };
    // Consent withdrawn after a view: the profile no longer holds it, and the list reads nothing about the person.
    seed('user#u1', [viewed('s1', 'shoes', T0 - 2 * HOUR), track('Segment Consent Preference Updated', {}, { userId: 'u1', at: T0 - HOUR, context: withdrawn })]);
    await deps.identities.link({ id: 'anon#phone', canonicalId: 'user#u1', scope: 'all', linkedAt: T0, expiresAt: T0 / 1000 + 86_400 });
    for (const query of [{ userId: 'u1' }, { anonymousId: 'phone' }] as Array<Record<string, string>>) {
      const { body } = await get({ ...query, limit: '3' });
      expect(body).toMatchObject({ strategy: 'popular', personalized: false });
      expect(body.items.every((i: { reasons: string[] }) => !i.reasons.some((r) => r.startsWith('similar:')))).toBe(true);
    }
    // With consent granted again the person's next events personalize the list again.
    seed('user#u1', [
      viewed('s1', 'shoes', T0 - 2 * HOUR),
      track('Segment Consent Preference Updated', {}, { userId: 'u1', at: T0 - HOUR, context: withdrawn }),
      track('Segment Consent Preference Updated', {}, { userId: 'u1', at: T0 - 30 * 60_000, context: { consent: { categoryPreferences: { Personalization: true } } } }),
    ]);
    expect((await get({ userId: 'u1', limit: '3' })).body).toMatchObject({ strategy: 'hybrid', personalized: true });
  });

  it('serves a visitor nobody knows from the popularity chain, never an empty list', async () => {
    const { body } = await setup().get({ anonymousId: 'a-new', limit: '5' });
    expect(body.items.length).toBe(5);
    expect(body.items[0].reasons.some((r: string) => r === 'trending' || r.startsWith('popular'))).toBe(true);
    expect(ids(body)[0]).toBe('b1');
  });

  it('treats an expired profile as absent', async () => {
    const { seed, get } = setup();
    seed('user#u1', [viewed('s1', 'shoes', T0 - 400 * DAY)], T0 - 400 * DAY);
    const { body } = await get({ userId: 'u1', limit: '3' });
    expect(body.items[0].reasons).not.toContain('similar:s1');
  });

  it('answers "more like this" for a context item, without the item itself', async () => {
    const { get } = setup();
    const { body } = await get({ anonymousId: 'a1', itemId: 's3', limit: '3' });
    expect(ids(body)[0]).toBe('s4');
    expect(body.items[0].reasons).toContain('context:s3');
    expect(ids(body)).not.toContain('s3');
  });

  it('filters by category and by the exclude list', async () => {
    const { get } = setup();
    const { body } = await get({ anonymousId: 'a1', category: 'Shoes', exclude: 's1, s2' });
    expect(ids(body).sort()).toEqual(['s3', 's4']);
  });

  it('leaves out what the person bought and has in the cart, and unavailable items', async () => {
    const { seed, get, models } = setup();
    seed('user#u1', [bought('s1', 'shoes'), track('Product Added', { product_id: 's2', category: 'shoes' }, { userId: 'u1', at: T0 - HOUR })]);
    models.unavailable.add('b1');
    const { body } = await get({ userId: 'u1', limit: '20' });
    expect(ids(body)).not.toContain('s1');
    expect(ids(body)).not.toContain('s2');
    expect(ids(body)).not.toContain('b1');
    expect(ids(body).length).toBeGreaterThan(0);
  });

  it('applies the configured rules: pins and a diversity cap', async () => {
    const config: RecommendConfig = { rules: { pins: [{ itemId: 'b3', position: 1 }], maxPerCategory: 1 } };
    // Two categories and a cap of one per category: the pinned book, then the best shoe, then (filling) a book.
    const { body } = await setup({ config }).get({ anonymousId: 'a1', limit: '3' });
    expect(ids(body)[0]).toBe('b3');
    expect(body.items[0].reasons).toContain('pinned');
    expect(ids(body)[1]).toMatch(/^s/);
    expect(ids(body)[2]).toMatch(/^b/);
  });

  it('writes one exposure event with the recommendation id and the items shown', async () => {
    const { get, written } = setup();
    const { body } = await get({ anonymousId: 'a1', limit: '2' });
    expect(written).toHaveLength(1);
    expect(written[0]).toMatchObject({
      type: 'track',
      event: EXPOSURE_EVENT,
      anonymousId: 'a1',
      messageId: `rec-${body.recommendationId}`,
      properties: {
        recommendation_id: body.recommendationId,
        variant: 'default',
        strategy: 'hybrid',
        products: body.items.map((i: { itemId: string }, n: number) => ({ product_id: i.itemId, position: n + 1 })),
      },
    });
  });

  it('still answers when the exposure cannot be written, and counts the loss', async () => {
    const { get, recorded } = setup({ streamFails: true });
    const { response } = await get({ anonymousId: 'a1' });
    expect(response.statusCode).toBe(200);
    expect(recorded.get('ExposuresLost')).toBe(1);
  });

  it('writes no exposure when exposure events are off', async () => {
    const { get, written } = setup({ config: { exposureEvents: false } });
    await get({ anonymousId: 'a1' });
    expect(written).toHaveLength(0);
  });

  it('falls back to the newest catalog items before any model exists', async () => {
    const { models, get } = setup({ withModel: false });
    models.catalogFallback = [{ itemId: 'fresh', score: 0, categories: ['shoes'] }];
    const { body } = await get({ anonymousId: 'a1' });
    expect(body.items).toEqual([{ itemId: 'fresh', score: 0, reasons: ['new'] }]);
    expect(body).not.toHaveProperty('modelVersion');
    expect(models.calls.lists).toBe(0);
  });

  describe('experiments', () => {
    const config: RecommendConfig = {
      experiment: { name: 'ranker', variants: [{ name: 'control', weight: 1 }, { name: 'popular-only', weight: 1, strategy: 'popular' }] },
    };

    it('puts each person in one variant, every time, and reports it', async () => {
      const { get } = setup({ config });
      const seen = new Map<string, string>();
      for (let i = 0; i < 40; i++) {
        const first = (await get({ anonymousId: `a${i}` })).body.variant;
        const again = (await get({ anonymousId: `a${i}` })).body.variant;
        expect(again).toBe(first);
        seen.set(`a${i}`, first);
      }
      expect(new Set(seen.values())).toEqual(new Set(['control', 'popular-only']));
    });

    it("serves each variant's strategy", async () => {
      const { seed, get } = setup({ config });
      seed('user#u1', [viewed('s1', 'shoes')]);
      const { body } = await get({ userId: 'u1' });
      const similar = body.items.some((i: { reasons: string[] }) => i.reasons.includes('similar:s1'));
      expect(body.experiment).toBe('ranker');
      expect(body.strategy).toBe(body.variant === 'control' ? 'hybrid' : 'popular');
      expect(similar).toBe(body.variant === 'control');
    });
  });

  describe('segments', () => {
    const config: RecommendConfig = { segments: [{ segment: 'cart-abandoners', strategy: 'popular' }] };
    const seedMember = (seed: ReturnType<typeof setup>['seed'], profiles: InMemoryProfileStore, consent?: Record<string, boolean>) => {
      const record = seed('user#u1', [viewed('s1', 'shoes', T0 - 2 * HOUR), ...(consent ? [track(CONSENT_EVENT, {}, { userId: 'u1', at: T0 - HOUR, context: { consent: { categoryPreferences: consent } } })] : [])]);
      profiles.seed({ ...record, memberships: { segments: { 'cart-abandoners': { since: T0 - HOUR } } } });
    };

    it("serves a segment's members with its defaults, and says so", async () => {
      const { seed, profiles, get } = setup({ config });
      seedMember(seed, profiles);
      const { body } = await get({ userId: 'u1' });
      expect(body).toMatchObject({ strategy: 'popular', segment: 'cart-abandoners', variant: 'default' });
      const outside = await get({ userId: 'someone-else' });
      expect(outside.body.strategy).toBe('hybrid');
      expect(outside.body).not.toHaveProperty('segment');
    });

    it('applies no segment to a person without personalization consent', async () => {
      const { seed, profiles, get } = setup({ config });
      seedMember(seed, profiles, { personalization: false });
      const { body } = await get({ userId: 'u1' });
      expect(body.personalized).toBe(false);
      expect(body).not.toHaveProperty('segment');
    });
  });

  describe('the personalize strategy', () => {
    const config: RecommendConfig = { strategy: 'personalize' };

    it("serves Amazon Personalize's list through the same rules", async () => {
      const personalize = { recommend: jest.fn(async () => [{ itemId: 'p1', score: 0.9 }, { itemId: 'b1', score: 0.5 }]) };
      const { get, models } = setup({ config, personalize });
      models.unavailable.add('b1');
      const { body } = await get({ userId: 'u1', itemId: 's1', limit: '5' });
      expect(body.strategy).toBe('personalize');
      expect(body.items).toEqual([{ itemId: 'p1', score: 0.9, reasons: ['personalize'] }]);
      expect(personalize.recommend).toHaveBeenCalledWith({ userId: 'u1', itemId: 's1', numResults: 15 });
    });

    it('falls back to the built-in strategy when Personalize fails or times out', async () => {
      const personalize = { recommend: jest.fn(async () => Promise.reject(new Error('timed out after 150 ms'))) };
      const { get, recorded } = setup({ config, personalize });
      const { response, body } = await get({ anonymousId: 'a1' });
      expect(response.statusCode).toBe(200);
      expect(body.strategy).toBe('hybrid');
      expect(body.items.length).toBeGreaterThan(0);
      expect(recorded.get('PersonalizeFallbacks')).toBe(1);
    });
  });
});
