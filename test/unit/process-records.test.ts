import { FullBatchFailureError, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { KinesisStreamRecord } from 'aws-lambda';
import { CoalescingKinesisProcessor } from '../../lambdas/process/coalescing-processor';
import { processRecords, ProcessDeps } from '../../lambdas/process/process-records';
import { decodeRecord } from '../../lambdas/process/records';
import { DEFAULT_PROFILE_SETTINGS } from '../../lambdas/shared/domain/settings';
import type { BadEvent, BadEventStore } from '../../lambdas/shared/store/bad-event-store';
import { toEntry } from '../../lambdas/shared/store/event-stream';
import { InMemoryIdentityStore } from '../support/in-memory-identity-store';
import { InMemoryProfileStore } from '../support/in-memory-profile-store';
import { kinesisEvent, kinesisRecord } from '../support/kinesis';
import { disabledMetrics, recordMetrics, silentLogger } from '../support/powertools';
import { DAY, T0, track } from '../support/events';

class FakeBadEventStore implements BadEventStore {
  readonly stored: BadEvent[] = [];
  failWith?: Error;
  async putAll(events: readonly BadEvent[]): Promise<void> {
    if (this.failWith) throw this.failWith;
    this.stored.push(...events);
  }
}

function setup() {
  const profiles = new InMemoryProfileStore();
  const badEvents = new FakeBadEventStore();
  const metrics = disabledMetrics();
  const recorded = recordMetrics(metrics);
  const deps: ProcessDeps = { profiles, identities: new InMemoryIdentityStore(), badEvents, settings: DEFAULT_PROFILE_SETTINGS, now: () => T0 + DAY, logger: silentLogger(), metrics };
  return { profiles, badEvents, deps, recorded };
}

const eventRecord = (userId: string, messageId: string) =>
  kinesisRecord(track('Product Viewed', { product_id: 'p1' }, { userId, messageId }), { partitionKey: userId });

describe('decodeRecord', () => {
  it('decodes a valid stream event', () => {
    const event = track('Signed Up', {}, { userId: 'u1', messageId: 'm1' });
    expect(decodeRecord(kinesisRecord(event))).toEqual({ event });
  });

  it('decodes a record as the ingest function writes it: the JSON and a newline', () => {
    const event = track('Signed Up', {}, { userId: 'u1', messageId: 'm1' });
    const data = Buffer.from(toEntry(event).Data as Uint8Array);
    expect(data.toString('utf8').endsWith('}\n')).toBe(true);
    expect(decodeRecord(kinesisRecord(data))).toEqual({ event });
  });

  it('keeps the id, payload, partition key and arrival time of a bad record', () => {
    const record = kinesisRecord('not json', { partitionKey: 'u9', sequenceNumber: '4960', arrivedAtMs: 1_714_564_800_123 });
    const decoded = decodeRecord(record);
    expect(decoded).toEqual({
      bad: {
        id: 'shardId-000000000000/4960',
        source: 'processor',
        reason: expect.stringMatching(/^Record data is not JSON: /),
        payload: 'not json',
        partitionKey: 'u9',
        arrivedAt: 1_714_564_800_123,
      },
    });
  });

  it.each([
    ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), /^Record data is not valid UTF-8$/],
    ['an array', [1, 2], /^Invalid input|expected object/i],
    ['a schema-invalid event', { type: 'track', userId: 'u1', messageId: 'm', timestamp: '2024-05-01T00:00:00Z', receivedAt: '2024-05-01T00:00:00Z', sourceId: 's' }, /event is required for track calls/],
    ['an event without timestamp', { type: 'identify', userId: 'u1', messageId: 'm', receivedAt: '2024-05-01T00:00:00Z', sourceId: 's' }, /^timestamp: is required$/],
    ['a deeply nested event', JSON.parse(`${'{"a":'.repeat(40)}1${'}'.repeat(40)}`), /^Record is nested too deeply$/],
    ['empty data', Buffer.alloc(0), /^Record data is not JSON/],
  ])('rejects %s with a reason', (_label, data, reason) => {
    const decoded = decodeRecord(kinesisRecord(data));
    if (!('bad' in decoded)) throw new Error('expected a bad record');
    expect(decoded.bad.reason).toMatch(reason);
  });

  it('keeps the base64 data of a record that is not UTF-8', () => {
    const record = kinesisRecord(Buffer.from([0xff, 0x00]));
    const decoded = decodeRecord(record);
    expect('bad' in decoded && decoded.bad.payload).toBe(`base64:${record.kinesis.data}`);
  });
});

describe('processRecords', () => {
  it('updates profiles from valid records and stores bad records with reasons, failing none', async () => {
    const { profiles, badEvents, deps, recorded } = setup();
    const records = [eventRecord('u1', 'm1'), kinesisRecord('{oops'), eventRecord('u2', 'm2'), kinesisRecord(Buffer.from([0xc3, 0x28])), kinesisRecord({ type: 'track' })];
    const failures = await processRecords(records, deps);
    expect(failures.size).toBe(0);
    expect(profiles.ids().sort()).toEqual(['user#u1', 'user#u2']);
    expect(badEvents.stored.map((b) => b.id)).toEqual([records[1], records[3], records[4]].map((r) => `shardId-000000000000/${r.kinesis.sequenceNumber}`));
    expect(badEvents.stored.every((b) => b.reason.length > 0)).toBe(true);
    expect(Object.fromEntries(recorded)).toMatchObject({ RecordsProcessed: 5, BadEvents: 3, ProfileWrites: 2, RecordsFailed: 0 });
  });

  it('does not call the bad-events store when there is nothing bad', async () => {
    const { badEvents, deps } = setup();
    badEvents.failWith = new Error('should not be called');
    expect((await processRecords([eventRecord('u1', 'm1')], deps)).size).toBe(0);
  });

  it('fails the bad records (only) when the bad-events store fails', async () => {
    const { profiles, badEvents, deps } = setup();
    badEvents.failWith = new Error('DynamoDB down');
    const good = eventRecord('u1', 'm1');
    const bad = kinesisRecord('garbage');
    const failures = await processRecords([good, bad], deps);
    expect([...failures.keys()]).toEqual([bad]);
    expect(failures.get(bad)?.message).toBe('DynamoDB down');
    expect(profiles.ids()).toEqual(['user#u1']);
  });

  it("maps a profile's write failure to exactly that profile's records", async () => {
    const { profiles, deps } = setup();
    profiles.beforePut = (_s, record) => {
      if (record.state.profileId === 'user#u2') throw new Error('throttled');
    };
    const records = [eventRecord('u1', 'a'), eventRecord('u2', 'b'), eventRecord('u3', 'c'), eventRecord('u2', 'd'), kinesisRecord('bad')];
    const failures = await processRecords(records, deps);
    expect([...failures.keys()]).toEqual([records[1], records[3]]);
  });
});

describe('CoalescingKinesisProcessor with processPartialResponse', () => {
  const run = (records: KinesisStreamRecord[], deps: ProcessDeps) =>
    processPartialResponse(kinesisEvent(records), (batch: KinesisStreamRecord[]) => processRecords(batch, deps), new CoalescingKinesisProcessor());

  it('answers an empty batchItemFailures when everything succeeded', async () => {
    const { deps } = setup();
    await expect(run([eventRecord('u1', 'a'), kinesisRecord('bad')], deps)).resolves.toEqual({ batchItemFailures: [] });
  });

  it('reports the sequence numbers of just the failed records', async () => {
    const { profiles, deps } = setup();
    profiles.beforePut = (_s, record) => {
      if (record.state.profileId === 'user#u2') throw new Error('throttled');
    };
    const records = [eventRecord('u1', 'a'), eventRecord('u2', 'b'), eventRecord('u3', 'c'), eventRecord('u2', 'd')];
    const response = await run(records, deps);
    expect(response).toEqual({
      batchItemFailures: [{ itemIdentifier: records[1].kinesis.sequenceNumber }, { itemIdentifier: records[3].kinesis.sequenceNumber }],
    });
  });

  it('throws when every record failed, so that Lambda bisects the batch', async () => {
    const { profiles, deps } = setup();
    profiles.beforeGetMany = () => {
      throw new Error('DynamoDB unavailable');
    };
    await expect(run([eventRecord('u1', 'a'), eventRecord('u2', 'b')], deps)).rejects.toBeInstanceOf(FullBatchFailureError);
  });

  it('can be reused across invocations (state is reset per batch)', async () => {
    const { profiles, deps } = setup();
    const processor = new CoalescingKinesisProcessor();
    let failU1 = true;
    profiles.beforePut = (_s, record) => {
      if (failU1 && record.state.profileId === 'user#u1') throw new Error('throttled');
    };
    const handler = (batch: KinesisStreamRecord[]) => processRecords(batch, deps);
    const first = [eventRecord('u1', 'a'), eventRecord('u2', 'b')];
    expect((await processPartialResponse(kinesisEvent(first), handler, processor)).batchItemFailures).toHaveLength(1);
    failU1 = false;
    await expect(processPartialResponse(kinesisEvent(first), handler, processor)).resolves.toEqual({ batchItemFailures: [] });
    expect(profiles.peek('user#u1')?.state.events['Product Viewed']).toBe(1);
    expect(profiles.peek('user#u2')?.state.events['Product Viewed']).toBe(1);
  });

  it('refuses to process records one at a time', () => {
    const processor = new CoalescingKinesisProcessor();
    expect(() => processor.processRecord()).toThrow(/whole batches/);
    expect(() => processor.processRecordSync()).toThrow(/whole batches/);
  });
});
