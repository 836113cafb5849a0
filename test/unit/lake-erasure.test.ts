import { LAKE_OBJECT_PREFIXES, lakeLineMatches, lakeObjectKindOf, lakeObjectQueries } from '../../lambdas/shared/domain/lake-erasure';
import { BadEvent, badEventLine, MAX_PAYLOAD_CHARS } from '../../lambdas/shared/store/bad-event-store';
import { BAD_EVENTS_COLUMNS, EVENTS_COLUMNS } from '../../lib/constructs/analytics';
import { LAKE_PREFIXES } from '../../lib/constructs/event-lake';
import { alias, track } from '../support/events';

/** The person: a userId and an anonymousId linked to it. */
const IDS = new Set(['u-1', 'anon-1']);
const line = (value: unknown) => JSON.stringify(value);
const badLine = (event: Partial<BadEvent>) => line(badEventLine({ id: 'ingest/req-1/0', source: 'ingest', reason: 'invalid', payload: '', ...event }, '2024-05-01T12:00:00.000Z'));
/** A Firehose error record, as the local lake writer writes it (Firehose's own has no partition key). */
const errorLine = (data: string, partitionKey = 'shard-key') =>
  line({ errorCode: 'InvalidStreamEvent', errorMessage: 'Not a stream event', rawData: Buffer.from(data).toString('base64'), arrivalTimestamp: 1, partitionKey });

describe('lakeLineMatches', () => {
  describe('events/', () => {
    it.each([
      { by: 'its userId', event: track('Viewed', {}, { userId: 'u-1' }), expected: true },
      { by: 'its anonymousId', event: track('Viewed', {}, { anonymousId: 'anon-1' }), expected: true },
      { by: 'the previousId of an alias', event: alias('anon-1', { userId: 'u-9' }), expected: true },
      { by: 'someone else’s ids', event: track('Viewed', {}, { userId: 'u-2', anonymousId: 'anon-2' }), expected: false },
      { by: 'an id the person’s is a prefix of', event: track('Viewed', {}, { userId: 'u-10' }), expected: false },
      { by: 'an id only in properties', event: track('Invited', { invitee: 'u-1' }, { userId: 'u-2' }), expected: false },
      { by: 'a previousId outside an alias', event: { ...track('Viewed', {}, { userId: 'u-2' }), previousId: 'u-1' }, expected: false },
    ])('matches a stream event by $by: $expected', ({ event, expected }) => {
      expect(lakeLineMatches('events', line(event), IDS)).toBe(expected);
    });

    it('reads a record that is not a stream event (Firehose writes the stream as it is) like a rejected payload', () => {
      expect(lakeLineMatches('events', line([{ userId: 'u-2' }, { anonymousId: 'anon-1' }]), IDS)).toBe(true);
      expect(lakeLineMatches('events', line({ batch: [{ userId: 'u-2' }, { userId: 'u-1' }] }), IDS)).toBe(true);
      expect(lakeLineMatches('events', line({ batch: [{ userId: 'u-2' }] }), IDS)).toBe(false);
    });

    it('keeps an unparseable line unless it holds an id as a JSON string literal', () => {
      const damaged = line(track('Viewed', {}, { userId: 'u-1' })).slice(0, -20);
      expect(lakeLineMatches('events', damaged, IDS)).toBe(true);
      expect(lakeLineMatches('events', line(track('Viewed', {}, { userId: 'u-10' })).slice(0, -20), IDS)).toBe(false);
      expect(lakeLineMatches('events', 'u-1 was here', IDS)).toBe(false);
      expect(lakeLineMatches('events', '\u0000\u0001 binary', IDS)).toBe(false);
    });
  });

  describe('bad-events/', () => {
    it('matches every message of a JSON payload, a batch included', () => {
      expect(lakeLineMatches('badEvents', badLine({ payload: line({ type: 'track', userId: 'u-1' }) }), IDS)).toBe(true);
      expect(lakeLineMatches('badEvents', badLine({ payload: line({ batch: [{ type: 'track', userId: 'u-2' }, { type: 'page', anonymousId: 'anon-1' }] }) }), IDS)).toBe(true);
      expect(lakeLineMatches('badEvents', badLine({ payload: line({ type: 'alias', previousId: 'anon-1', userId: 'u-2' }) }), IDS)).toBe(true);
      expect(lakeLineMatches('badEvents', badLine({ payload: line({ batch: [{ userId: 'u-2' }, { userId: 'u-10' }] }) }), IDS)).toBe(false);
    });

    it('reads ids as ingest does: trimmed, and numbers as their text', () => {
      expect(lakeLineMatches('badEvents', badLine({ payload: line({ userId: ' u-1 ' }) }), IDS)).toBe(true);
      expect(lakeLineMatches('badEvents', badLine({ payload: line({ userId: 123 }) }), new Set(['123']))).toBe(true);
      expect(lakeLineMatches('badEvents', badLine({ payload: line({ userId: 1234 }) }), new Set(['123']))).toBe(false);
    });

    it('matches a payload that is not JSON (cut, or never JSON) when it holds an id as a JSON string literal', () => {
      const cut = badLine({ payload: `{"type":"track","userId":"u-1","properties":{"notes":"${'x'.repeat(MAX_PAYLOAD_CHARS)}"}}` });
      expect(JSON.parse(cut).truncated).toBe(true);
      expect(lakeLineMatches('badEvents', cut, IDS)).toBe(true);
      expect(lakeLineMatches('badEvents', badLine({ payload: '{"type":"track","userId":"u-10","prop' }), IDS)).toBe(false);
      expect(lakeLineMatches('badEvents', badLine({ payload: 'userId=u-1' }), IDS)).toBe(false);
    });

    it('looks for an id with JSON escaping', () => {
      const id = 'a"b\\c\n';
      const payload = `{"userId":${JSON.stringify(id)},"cut`;
      expect(lakeLineMatches('badEvents', badLine({ payload }), new Set([id]))).toBe(true);
      expect(lakeLineMatches('badEvents', badLine({ payload: `{"userId":"a"b\\c\n","cut` }), new Set([id]))).toBe(false);
    });

    it('matches the partition key of a rejected stream record', () => {
      expect(lakeLineMatches('badEvents', badLine({ source: 'processor', payload: 'not json', partitionKey: 'u-1' }), IDS)).toBe(true);
      expect(lakeLineMatches('badEvents', badLine({ source: 'processor', payload: 'not json', partitionKey: 'u-2' }), IDS)).toBe(false);
    });

    it('matches a damaged line by the id escaped inside its payload', () => {
      const whole = badLine({ payload: line({ type: 'track', userId: 'u-1', event: 'x'.repeat(40) }) });
      expect(lakeLineMatches('badEvents', whole.slice(0, -30), IDS)).toBe(true);
      expect(lakeLineMatches('badEvents', badLine({ payload: line({ userId: 'u-2', event: 'x'.repeat(40) }) }).slice(0, -30), IDS)).toBe(false);
    });
  });

  describe('errors/', () => {
    it('decodes the raw record and matches it as a rejected payload', () => {
      expect(lakeLineMatches('errors', errorLine(`${line({ type: 'track', userId: 'u-1' })}\n`), IDS)).toBe(true);
      expect(lakeLineMatches('errors', errorLine('{"type":"page","anonymousId":"anon-1","cut'), IDS)).toBe(true);
      expect(lakeLineMatches('errors', errorLine(`${line({ type: 'track', userId: 'u-2' })}\n`), IDS)).toBe(false);
      expect(lakeLineMatches('errors', errorLine('not json at all'), IDS)).toBe(false);
    });

    it('reads a bad-event line the bad-events delivery stream could not deliver as one', () => {
      expect(lakeLineMatches('errors', errorLine(`${badLine({ payload: line({ userId: 'u-1' }) })}\n`), IDS)).toBe(true);
      expect(lakeLineMatches('errors', errorLine(`${badLine({ payload: 'x', partitionKey: 'anon-1' })}\n`), IDS)).toBe(true);
      expect(lakeLineMatches('errors', errorLine(`${badLine({ payload: line({ userId: 'u-2' }) })}\n`), IDS)).toBe(false);
    });

    it('matches the record’s partition key', () => {
      expect(lakeLineMatches('errors', errorLine('not json', 'u-1'), IDS)).toBe(true);
    });
  });
});

describe('segment events', () => {
  /** A segment event as EventBridge delivers it to the lake's rule target. */
  const segmentLine = (profileId: string, userId?: string) =>
    line({ version: '0', id: 'e-1', 'detail-type': 'Segment Exited', source: 'personalization.segments', time: '2024-05-01T12:00:00Z', detail: { noticeId: `s/${profileId}/1/exited`, type: 'exited', segmentId: 's', profileId, ...(userId ? { userId } : {}), at: '…', since: '…', reason: 'condition' } });

  it("belong to the person by the detail's userId or the id inside its profileId", () => {
    expect(lakeLineMatches('segmentEvents', segmentLine('user#u-1', 'u-1'), IDS)).toBe(true);
    expect(lakeLineMatches('segmentEvents', segmentLine('anon#anon-1'), IDS)).toBe(true);
    expect(lakeLineMatches('segmentEvents', segmentLine('user#someone', 'someone'), IDS)).toBe(false);
    // The same text elsewhere in the event is not the person.
    expect(lakeLineMatches('segmentEvents', segmentLine('user#someone').replace('"s"', '"u-1"'), IDS)).toBe(false);
  });

  it('are found in segment_events by detail.userid or detail.profileid', () => {
    expect(lakeObjectQueries(new Set(['u-1']), ['segment_events'])).toEqual([
      `SELECT DISTINCT "$path" AS object_path FROM segment_events WHERE detail.userid IN ('u-1') OR detail.profileid IN ('user#u-1', 'anon#u-1')`,
    ]);
    expect(lakeObjectKindOf('segment-events/dt=2024-05-01/hour=12/x.json.gz')).toBe('segmentEvents');
  });
});

describe('lakeObjectKindOf', () => {
  it('knows an object by its top-level prefix, the prefixes the stack gives the lake bucket', () => {
    // Every prefix of the lake is erased: a new one fails here until erasure knows it.
    expect(LAKE_OBJECT_PREFIXES).toEqual(LAKE_PREFIXES);
    expect(lakeObjectKindOf('events/dt=2024-05-01/hour=12/events-1.json.gz')).toBe('events');
    expect(lakeObjectKindOf('bad-events/dt=2024-05-01/hour=12/x.json.gz')).toBe('badEvents');
    expect(lakeObjectKindOf('errors/bad-events/processing-failed/dt=2024-05-01/hour=12/x.json.gz')).toBe('errors');
    expect(() => lakeObjectKindOf('results/q-1.csv')).toThrow(/Not a lake object: results\/q-1.csv/);
  });
});

describe('lakeObjectQueries', () => {
  it('selects the distinct paths of the objects holding the ids, on every partition, in Glue’s column names', () => {
    expect(lakeObjectQueries(IDS, ['events', 'bad_events'])).toEqual([
      `SELECT DISTINCT "$path" AS object_path FROM events WHERE userid IN ('u-1', 'anon-1') OR anonymousid IN ('u-1', 'anon-1') OR previousid IN ('u-1', 'anon-1')`,
      `SELECT DISTINCT "$path" AS object_path FROM bad_events WHERE partitionkey IN ('u-1', 'anon-1') OR strpos(payload, '"u-1"') > 0 OR strpos(payload, '"anon-1"') > 0`,
    ]);
    const glue = new Set([...EVENTS_COLUMNS, ...BAD_EVENTS_COLUMNS].map((c) => c.name));
    for (const column of ['userid', 'anonymousid', 'previousid', 'partitionkey', 'payload']) expect(glue).toContain(column);
  });

  it('writes a hostile id as a SQL string literal, quotes doubled', () => {
    const [events, badEvents] = lakeObjectQueries(new Set(["x' OR '1'='1"]), ['events', 'bad_events']);
    expect(events).toBe(
      `SELECT DISTINCT "$path" AS object_path FROM events WHERE userid IN ('x'' OR ''1''=''1') OR anonymousid IN ('x'' OR ''1''=''1') OR previousid IN ('x'' OR ''1''=''1')`,
    );
    expect(badEvents).toBe(`SELECT DISTINCT "$path" AS object_path FROM bad_events WHERE partitionkey IN ('x'' OR ''1''=''1') OR strpos(payload, '"x'' OR ''1''=''1"') > 0`);
  });

  it('splits many ids over several queries of 50 ids, each id in exactly one', () => {
    const idsOf = (n: number) => new Set(Array.from({ length: n }, (_, i) => `id-${i}`));
    expect(lakeObjectQueries(idsOf(100), ['events'])).toHaveLength(2);
    const queries = lakeObjectQueries(idsOf(101), ['events', 'bad_events']);
    expect(queries).toHaveLength(6);
    for (const id of idsOf(101)) expect(queries.filter((q) => q.includes(`'${id}'`))).toHaveLength(2);
  });
});
