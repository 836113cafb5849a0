import { FullBatchFailureError } from '@aws-lambda-powertools/batch';
import { Logger } from '@aws-lambda-powertools/logger';
import {
  InvalidInputException,
  PersonalizeEventsClient,
  PersonalizeEventsServiceException,
  PutEventsCommand,
  PutEventsCommandInput,
} from '@aws-sdk/client-personalize-events';
import type { Context, KinesisStreamBatchResponse, KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { personalizeEventsClient } from '../../lambdas/shared/clients';
import { eventIdOf } from '../../lambdas/shared/domain/personalize-events';
import { ENV } from '../../lambdas/shared/env';
import { identify, orderCompleted, product, productViewed, T0 } from '../support/events';
import { kinesisEvent, kinesisRecord } from '../support/kinesis';

const TRACKING_ID = 'tracking-0123';
const ENV_FOR_TEST = {
  [ENV.personalizeTrackingId]: TRACKING_ID,
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'test',
  AWS_SECRET_ACCESS_KEY: 'test',
  POWERTOOLS_LOG_LEVEL: 'SILENT',
  POWERTOOLS_METRICS_DISABLED: 'true',
  POWERTOOLS_METRICS_NAMESPACE: 'test',
};
const savedEnv = { ...process.env };
beforeAll(() => Object.assign(process.env, ENV_FOR_TEST));
afterAll(() => {
  process.env = savedEnv;
});

const throttled = () =>
  new PersonalizeEventsServiceException({ name: 'ThrottlingException', $fault: 'client', $metadata: { httpStatusCode: 400 }, message: 'Rate exceeded' });

const context = {
  functionName: 'personalize-forwarder',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:personalize-forwarder',
  memoryLimitInMB: '512',
  awsRequestId: 'request-1',
  logGroupName: '/aws/lambda/personalize-forwarder',
  logStreamName: 'stream',
  getRemainingTimeInMillis: () => 60_000,
} as unknown as Context;

const viewRecord = (userId: string, itemId: string, messageId = `${userId}-${itemId}`) =>
  kinesisRecord(productViewed(itemId, undefined, { userId, messageId }), { partitionKey: userId });
const failedIds = (response: KinesisStreamBatchResponse) => response.batchItemFailures.map((f) => f.itemIdentifier).sort();
const sequenceNumbers = (...records: KinesisStreamRecord[]) => records.map((r) => r.kinesis.sequenceNumber).sort();

describe('personalize forwarder handler', () => {
  // Mocks `send` of every PersonalizeEventsClient, including the one the handler module builds at load.
  const personalize = mockClient(PersonalizeEventsClient);
  let handler: (event: KinesisStreamEvent, context: Context) => Promise<KinesisStreamBatchResponse>;
  // Loaded once the environment it reads at cold start is set.
  beforeAll(() => {
    ({ handler } = require('../../lambdas/personalize/handler'));
  });
  beforeEach(() => {
    personalize.reset();
    personalize.on(PutEventsCommand).resolves({});
  });
  afterAll(() => personalize.restore());

  const calls = () => personalize.commandCalls(PutEventsCommand).map((c) => c.args[0].input as PutEventsCommandInput);

  it('sends the interactions of a batch with the tracking id, one session and at most 10 events per call', async () => {
    const products = Array.from({ length: 12 }, (_, i) => product(`p${i}`));
    const records = [
      viewRecord('u1', 'p1', 'm1'),
      kinesisRecord(orderCompleted({ products }, { userId: 'u2', anonymousId: 'a2', messageId: 'o1' })),
      kinesisRecord(identify({ plan: 'pro' }, { userId: 'u1' })),
      viewRecord('u1', 'p2', 'm2'),
    ];
    const response = await handler(kinesisEvent(records), context);

    expect(response.batchItemFailures).toEqual([]);
    const sent = calls();
    expect(sent.map((c) => [c.trackingId, c.userId, c.sessionId, c.eventList?.length])).toEqual([
      [TRACKING_ID, 'u1', 'u1', 2],
      [TRACKING_ID, 'u2', 'a2', 10],
      [TRACKING_ID, 'u2', 'a2', 2],
    ]);
    expect(sent[0].eventList).toEqual([
      { eventId: eventIdOf('m1', 'p1'), eventType: 'Product Viewed', eventValue: 1, itemId: 'p1', sentAt: new Date(T0) },
      { eventId: eventIdOf('m2', 'p2'), eventType: 'Product Viewed', eventValue: 1, itemId: 'p2', sentAt: new Date(T0) },
    ]);
  });

  it('reports exactly the records of a failed call, and only those', async () => {
    personalize.on(PutEventsCommand, { sessionId: 'u2' }).rejects(new InvalidInputException({ $metadata: {}, message: 'bad item id' }));
    const ok1 = viewRecord('u1', 'p1');
    const bad1 = viewRecord('u2', 'p1');
    const ok2 = viewRecord('u3', 'p1');
    const bad2 = viewRecord('u2', 'p2');
    const response = await handler(kinesisEvent([ok1, bad1, ok2, bad2]), context);
    expect(failedIds(response)).toEqual(sequenceNumbers(bad1, bad2));
    expect(calls()).toHaveLength(3);
  });

  it('fails an order whose events did not all get through, though its first call succeeded', async () => {
    const products = Array.from({ length: 15 }, (_, i) => product(`p${i}`));
    const order = kinesisRecord(orderCompleted({ products }, { userId: 'u1', messageId: 'o1' }));
    const other = viewRecord('u9', 'p1');
    personalize.on(PutEventsCommand, { sessionId: 'u1' }).resolvesOnce({}).rejects(throttled());
    const response = await handler(kinesisEvent([order, other]), context);
    expect(failedIds(response)).toEqual(sequenceNumbers(order));
    expect(calls().map((c) => [c.sessionId, c.eventList?.length])).toEqual([['u1', 10], ['u1', 5], ['u9', 1]]);
  });

  it('reports the records of a call still throttled after the SDK retries as batch item failures', async () => {
    personalize.on(PutEventsCommand, { sessionId: 'u1' }).rejects(throttled());
    const throttledRecord = viewRecord('u1', 'p1');
    const response = await handler(kinesisEvent([throttledRecord, viewRecord('u2', 'p1')]), context);
    expect(failedIds(response)).toEqual(sequenceNumbers(throttledRecord));
  });

  it('throws when every record failed, so that Lambda bisects the batch', async () => {
    personalize.on(PutEventsCommand).rejects(throttled());
    await expect(handler(kinesisEvent([viewRecord('u1', 'p1'), viewRecord('u2', 'p1')]), context)).rejects.toThrow(FullBatchFailureError);
  });

  it('skips undecodable records with a warning, and forwards the rest', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn');
    const good = viewRecord('u1', 'p1');
    const notJson = kinesisRecord('not json', { sequenceNumber: '4901' });
    const invalid = kinesisRecord({ type: 'track', userId: 'u1', messageId: 'x' }, { sequenceNumber: '4902' });
    const response = await handler(kinesisEvent([notJson, good, invalid]), context);

    expect(response.batchItemFailures).toEqual([]);
    expect(calls()).toHaveLength(1);
    expect(warn).toHaveBeenCalledWith(
      expect.stringMatching(/skipped/),
      expect.objectContaining({ count: 2, skipped: [expect.objectContaining({ id: 'shardId-000000000000/4901' }), expect.objectContaining({ id: 'shardId-000000000000/4902' })] }),
    );
    warn.mockRestore();
  });

  it('acknowledges a batch without interactions without calling Personalize', async () => {
    const response = await handler(kinesisEvent([kinesisRecord(identify({ plan: 'pro' })), kinesisRecord('garbage')]), context);
    expect(response.batchItemFailures).toEqual([]);
    expect(calls()).toHaveLength(0);
  });
});

describe('personalizeEventsClient', () => {
  const input: PutEventsCommandInput = {
    trackingId: TRACKING_ID,
    sessionId: 's1',
    eventList: [{ eventType: 'Product Viewed', itemId: 'p1', sentAt: new Date(T0) }],
  };

  /** A client whose requests never leave the process: each attempt gets the next of `outcomes` (an error to throw, or success). */
  function clientAnswering(outcomes: Array<Error | 'ok'>) {
    const client = personalizeEventsClient();
    let attempts = 0;
    client.middlewareStack.add(
      () => async () => {
        const outcome = outcomes[Math.min(attempts++, outcomes.length - 1)];
        if (outcome !== 'ok') throw outcome;
        return { output: { $metadata: { httpStatusCode: 200 } }, response: {} };
      },
      { step: 'deserialize', priority: 'high', name: 'fakePersonalize' },
    );
    return { client, attempts: () => attempts };
  }

  // No backoff delays: the standard retry strategy draws its jitter from Math.random.
  beforeEach(() => jest.spyOn(Math, 'random').mockReturnValue(0));
  afterEach(() => jest.restoreAllMocks());

  it('retries throttling (ThrottlingException, LimitExceededException) within the call', async () => {
    const limitExceeded = new PersonalizeEventsServiceException({ name: 'LimitExceededException', $fault: 'client', $metadata: { httpStatusCode: 400 }, message: 'Limit' });
    const { client, attempts } = clientAnswering([throttled(), limitExceeded, 'ok']);
    await expect(client.send(new PutEventsCommand(input))).resolves.toBeDefined();
    expect(attempts()).toBe(3);
  });

  it('gives up after 3 attempts, so the forwarder can report the records', async () => {
    const { client, attempts } = clientAnswering([throttled()]);
    await expect(client.send(new PutEventsCommand(input))).rejects.toMatchObject({ name: 'ThrottlingException' });
    expect(attempts()).toBe(3);
  });

  it('does not retry an invalid request', async () => {
    const { client, attempts } = clientAnswering([new InvalidInputException({ $metadata: { httpStatusCode: 400 }, message: 'bad' })]);
    await expect(client.send(new PutEventsCommand(input))).rejects.toMatchObject({ name: 'InvalidInputException' });
    expect(attempts()).toBe(1);
  });
});
