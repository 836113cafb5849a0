import { z } from 'zod';
import {
  describeIssues,
  IncomingMessageSchema,
  LIMITS,
  parseIsoTimestamp,
  partitionKeyOf,
  StreamEventSchema,
} from '../../lambdas/shared/domain/event-schema';

const issues = (value: unknown) => {
  const result = IncomingMessageSchema.safeParse(value);
  if (result.success) throw new Error(`expected ${JSON.stringify(value)} to be rejected`);
  return describeIssues(result.error);
};
const parsed = (value: unknown) => {
  const result = IncomingMessageSchema.safeParse(value);
  if (!result.success) throw new Error(`expected acceptance, got: ${describeIssues(result.error)}`);
  return result.data as Record<string, unknown>;
};

describe('parseIsoTimestamp', () => {
  const utc = Date.UTC(2024, 4, 1, 12, 30, 15);

  it.each([
    ['2024-05-01T12:30:15Z', utc],
    ['2024-05-01T12:30:15z', utc],
    ['2024-05-01T12:30:15.000Z', utc],
    ['2024-05-01 12:30:15Z', utc],
    ['2024-05-01T12:30:15+00:00', utc],
    ['2024-05-01T14:30:15+02:00', utc],
    ['2024-05-01T14:30:15+0200', utc],
    ['2024-05-01T14:30:15+02', utc],
    ['2024-05-01T07:00:15-05:30', utc],
    ['2024-05-02T02:30:15+14:00', utc],
  ])('reads %s', (input, expected) => {
    expect(parseIsoTimestamp(input)).toBe(expected);
  });

  it.each(['2024-05-01T12:30:15+05:99', '2024-05-01T12:30:15+99:00', '2024-05-01T12:30:15-14:01'])('refuses the impossible offset in %s', (input) => {
    expect(parseIsoTimestamp(input)).toBeUndefined();
  });

  it('reads years before 100 as themselves, not as 19xx', () => {
    expect(new Date(parseIsoTimestamp('0050-01-01T00:00:00Z') as number).getUTCFullYear()).toBe(50);
  });

  it('reads a date-time without an offset as UTC, not as local time', () => {
    expect(parseIsoTimestamp('2024-05-01T12:30:15')).toBe(utc);
    expect(parseIsoTimestamp('2024-05-01T12:30')).toBe(Date.UTC(2024, 4, 1, 12, 30));
  });

  it('keeps milliseconds and truncates finer fractions', () => {
    expect(parseIsoTimestamp('2024-05-01T12:30:15.1Z')).toBe(utc + 100);
    expect(parseIsoTimestamp('2024-05-01T12:30:15.12Z')).toBe(utc + 120);
    expect(parseIsoTimestamp('2024-05-01T12:30:15.123Z')).toBe(utc + 123);
    expect(parseIsoTimestamp('2024-05-01T12:30:15.123999999Z')).toBe(utc + 123);
    expect(parseIsoTimestamp('2024-05-01T12:30:15,5Z')).toBe(utc + 500);
  });

  it('reads every millisecond value exactly', () => {
    for (let ms = 0; ms < 1000; ms++) {
      expect(parseIsoTimestamp(`2024-05-01T12:30:15.${String(ms).padStart(3, '0')}Z`)).toBe(utc + ms);
    }
  });

  it('agrees with Date.parse on what toISOString produces', () => {
    for (const ms of [0, Date.UTC(2000, 0, 1), Date.UTC(2024, 1, 29, 23, 59, 59, 999), Date.UTC(2099, 11, 31)]) {
      expect(parseIsoTimestamp(new Date(ms).toISOString())).toBe(ms);
    }
  });

  it.each([
    '2024-02-30T00:00:00Z',
    '2023-02-29T00:00:00Z',
    '2024-04-31T00:00:00Z',
    '2024-13-01T00:00:00Z',
    '2024-00-10T00:00:00Z',
    '2024-05-00T00:00:00Z',
    '2024-05-01T24:00:00Z',
    '2024-05-01T12:60:00Z',
    '2024-05-01T12:00:60Z',
  ])('rejects the impossible date-time %s', (input) => {
    expect(parseIsoTimestamp(input)).toBeUndefined();
  });

  it('accepts 29 February in a leap year', () => {
    expect(parseIsoTimestamp('2024-02-29T00:00:00Z')).toBe(Date.UTC(2024, 1, 29));
  });

  it.each(['', 'now', '2024-05-01', '1714566000000', '2024-05-01T12', '2024-5-1T12:00:00Z', '2024-05-01T12:00:00 UTC', ' 2024-05-01T12:00:00Z', '2024-05-01T12:00:00Z ', 'Wed, 01 May 2024 12:00:00 GMT', '2024-05-01T12:00:00.Z', '2024-05-01T12:00:00+2'])(
    'rejects %j',
    (input) => {
      expect(parseIsoTimestamp(input)).toBeUndefined();
    },
  );
});

describe('IncomingMessageSchema', () => {
  const ids = { userId: 'u1' };

  it('accepts a minimal message of every type', () => {
    expect(parsed({ type: 'track', event: 'Signed Up', ...ids }).type).toBe('track');
    expect(parsed({ type: 'page', ...ids }).type).toBe('page');
    expect(parsed({ type: 'screen', ...ids }).type).toBe('screen');
    expect(parsed({ type: 'identify', ...ids }).type).toBe('identify');
    expect(parsed({ type: 'group', groupId: 'g1', ...ids }).type).toBe('group');
    expect(parsed({ type: 'alias', previousId: 'anon', userId: 'u1' }).type).toBe('alias');
  });

  describe('track', () => {
    it('needs an event name', () => {
      expect(issues({ type: 'track', ...ids })).toBe('event: is required for track calls');
    });
    it('rejects an empty or blank event name and trims it otherwise', () => {
      expect(issues({ type: 'track', event: '', ...ids })).toBe('event: must not be empty');
      expect(issues({ type: 'track', event: '   ', ...ids })).toBe('event: must not be empty');
      expect(parsed({ type: 'track', event: '  Signed Up ', ...ids }).event).toBe('Signed Up');
    });
    it('bounds the event name length', () => {
      expect(parsed({ type: 'track', event: 'x'.repeat(LIMITS.maxEventNameLength), ...ids }).event).toHaveLength(LIMITS.maxEventNameLength);
      expect(issues({ type: 'track', event: 'x'.repeat(LIMITS.maxEventNameLength + 1), ...ids })).toMatch(/^event: /);
    });
    it('rejects a non-string event name', () => {
      expect(issues({ type: 'track', event: 42, ...ids })).toMatch(/^event: /);
    });
  });

  describe('alias', () => {
    it('needs previousId', () => {
      expect(issues({ type: 'alias', userId: 'u1' })).toBe('previousId: is required for alias calls');
    });
    it('needs userId even when anonymousId is given', () => {
      expect(issues({ type: 'alias', previousId: 'a', anonymousId: 'a' })).toContain('userId: is required for alias calls');
    });
    it('treats an empty previousId as missing', () => {
      expect(issues({ type: 'alias', previousId: '', userId: 'u1' })).toBe('previousId: is required for alias calls');
    });
  });

  describe('group', () => {
    it('needs groupId', () => {
      expect(issues({ type: 'group', ...ids })).toBe('groupId: is required for group calls');
      expect(issues({ type: 'group', groupId: '', ...ids })).toBe('groupId: is required for group calls');
    });
    it('turns a numeric groupId into a string', () => {
      expect(parsed({ type: 'group', groupId: 42, ...ids }).groupId).toBe('42');
    });
  });

  describe('identity', () => {
    it('needs userId or anonymousId', () => {
      expect(issues({ type: 'identify' })).toBe('userId or anonymousId is required');
    });
    it('accepts anonymousId alone', () => {
      expect(parsed({ type: 'identify', anonymousId: 'a1' }).anonymousId).toBe('a1');
    });
    it.each(['', '   ', null])('counts userId %j as absent', (empty) => {
      expect(issues({ type: 'identify', userId: empty })).toBe('userId or anonymousId is required');
      const data = parsed({ type: 'identify', userId: empty, anonymousId: 'a1' });
      expect(data.userId).toBeUndefined();
      expect('userId' in data && data.userId !== undefined).toBe(false);
    });
    it('turns a numeric userId into a string and trims string ids', () => {
      expect(parsed({ type: 'identify', userId: 12345 }).userId).toBe('12345');
      expect(parsed({ type: 'identify', userId: 0 }).userId).toBe('0');
      expect(parsed({ type: 'identify', userId: ' u1 ' }).userId).toBe('u1');
    });
    it('rejects ids that are neither strings nor numbers', () => {
      expect(issues({ type: 'identify', userId: true })).toBe('userId: must be a string');
      expect(issues({ type: 'identify', userId: { id: 1 } })).toBe('userId: must be a string');
    });
    it('bounds id length to what a Kinesis partition key can hold', () => {
      expect(parsed({ type: 'identify', userId: 'u'.repeat(LIMITS.maxIdLength) }).userId).toHaveLength(LIMITS.maxIdLength);
      expect(issues({ type: 'identify', userId: 'u'.repeat(LIMITS.maxIdLength + 1) })).toBe(`userId: must be at most ${LIMITS.maxIdLength} characters`);
    });
  });

  it('keeps unknown fields', () => {
    const data = parsed({ type: 'track', event: 'E', ...ids, custom: { a: [1, 2] }, version: 2 });
    expect(data.custom).toEqual({ a: [1, 2] });
    expect(data.version).toBe(2);
  });

  it('validates timestamps', () => {
    expect(parsed({ type: 'identify', ...ids, timestamp: '2024-05-01T12:00:00Z' }).timestamp).toBe('2024-05-01T12:00:00Z');
    expect(parsed({ type: 'identify', ...ids, timestamp: '' }).timestamp).toBeUndefined();
    expect(issues({ type: 'identify', ...ids, timestamp: '2024-02-30T00:00:00Z' })).toMatch(/^timestamp: must be an ISO-8601 date-time/);
    expect(issues({ type: 'identify', ...ids, sentAt: 1714564800000 })).toBe('sentAt: must be an ISO-8601 date-time string');
  });

  it('needs JSON objects for properties, traits, context and integrations', () => {
    expect(issues({ type: 'identify', ...ids, traits: [1] })).toBe('traits: must be a JSON object');
    expect(issues({ type: 'track', event: 'E', ...ids, properties: 'x' })).toBe('properties: must be a JSON object');
    expect(issues({ type: 'identify', ...ids, context: null })).toBe('context: must be a JSON object');
  });

  it('explains a missing or unknown type', () => {
    expect(issues({ userId: 'u1' })).toBe('type is required');
    expect(issues({ type: 'purchase', userId: 'u1' })).toBe('type must be one of track, page, screen, identify, alias, group');
  });

  it('reports every problem of a message, one per issue', () => {
    const text = issues({ type: 'track', event: 7, traits: 'x' });
    const parts = text.split('; ');
    expect(parts).toEqual(expect.arrayContaining(['event: must be a string', 'traits: must be a JSON object']));
  });
});

describe('describeIssues', () => {
  it('prefixes each message with its path, unless the message already starts with it', () => {
    const schema = z.object({ a: z.object({ b: z.string({ error: 'must be a string' }) }), c: z.number({ error: 'c must be a number' }) });
    const result = schema.safeParse({ a: { b: 1 }, c: 'x' });
    expect(result.success).toBe(false);
    if (!result.success) expect(describeIssues(result.error)).toBe('a.b: must be a string; c must be a number');
  });
});

describe('StreamEventSchema', () => {
  const valid = {
    type: 'track',
    event: 'Signed Up',
    userId: 'u1',
    messageId: 'm1',
    timestamp: '2024-05-01T12:00:00.000Z',
    receivedAt: '2024-05-01T12:00:01.000Z',
    sourceId: 'src_1',
  };
  const streamIssues = (value: unknown) => {
    const result = StreamEventSchema.safeParse(value);
    return result.success ? undefined : describeIssues(result.error);
  };

  it('accepts what ingest writes', () => {
    expect(streamIssues(valid)).toBeUndefined();
  });

  it.each(['timestamp', 'receivedAt', 'messageId', 'sourceId'])('requires %s', (field) => {
    const { [field]: _dropped, ...rest } = valid as Record<string, unknown>;
    expect(streamIssues(rest)).toMatch(new RegExp(`^${field}: `));
  });

  it('requires parseable timestamps', () => {
    expect(streamIssues({ ...valid, timestamp: 'yesterday' })).toMatch(/^timestamp: /);
    expect(streamIssues({ ...valid, receivedAt: null })).toMatch(/^receivedAt: /);
  });

  it('requires an id and, for track calls, an event name', () => {
    expect(streamIssues({ ...valid, userId: undefined })).toBe('userId or anonymousId is required');
    expect(streamIssues({ ...valid, event: undefined })).toBe('event is required for track calls');
  });
});

describe('partitionKeyOf', () => {
  it('is the userId when known, the anonymousId otherwise', () => {
    expect(partitionKeyOf({ userId: 'u', anonymousId: 'a' })).toBe('u');
    expect(partitionKeyOf({ anonymousId: 'a' })).toBe('a');
  });
});
