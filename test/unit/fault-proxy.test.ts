import type { Server } from 'node:http';
import {
  DynamoDBClient,
  DynamoDBClientConfig,
  GetItemCommand,
  InternalServerError,
  ProvisionedThroughputExceededException,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import {
  CreateStreamCommand,
  DescribeStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  ProvisionedThroughputExceededException as KinesisThrottled,
  PutRecordsCommand,
} from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import dynalite from 'dynalite';
import kinesalite from 'kinesalite';
import { LOCAL_CREDENTIALS, localDynamoDb, localKinesis } from '../../local/clients';
import { listen } from '../../local/emulators';
import { Fault, FaultProxy, FaultProxyOptions, FaultService } from '../../local/fault-proxy';
import { LOCAL_REGION } from '../../local/template-model';
import { createPkTable } from '../support/dynalite';

/**
 * The fault proxy between the real SDK v3 clients and the real emulators (dynalite, kinesalite): what each fault does
 * to the call, as the SDK sees it (errors, classification, retries), and to the emulator, read directly.
 */

const TABLE = 'faults';
const servers: Server[] = [];
const emulator: Record<FaultService, string> = { dynamodb: '', kinesis: '' };
let dynamoDb: DynamoDBClient; // straight to dynalite
let kinesis: KinesisClient; // straight to kinesalite

beforeAll(async () => {
  servers.push(dynalite({ createTableMs: 0 }), kinesalite({ createStreamMs: 0 }));
  [emulator.dynamodb, emulator.kinesis] = await Promise.all(servers.map((server) => listen(server)));
  dynamoDb = localDynamoDb(emulator.dynamodb);
  kinesis = localKinesis(emulator.kinesis);
  await createPkTable(dynamoDb, TABLE);
});
afterAll(async () => {
  dynamoDb.destroy();
  kinesis.destroy();
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
});

/** What each test started, stopped after it. */
const started: Array<{ close(): Promise<void> } | { destroy(): void }> = [];
afterEach(async () => {
  for (const thing of started.splice(0)) await ('close' in thing ? thing.close() : thing.destroy());
});

/** A proxy in front of the emulator of `service`, and its URL. */
async function proxyFor(service: FaultService, options?: FaultProxyOptions): Promise<{ proxy: FaultProxy; url: string }> {
  const proxy = new FaultProxy(emulator[service], service, options);
  started.push(proxy);
  return { proxy, url: await proxy.start() };
}

type RetrySettings = Pick<DynamoDBClientConfig, 'maxAttempts' | 'retryStrategy'>;

/** A DynamoDB client of `endpoint`: as the local runtime's (`localDynamoDb`), with other retry settings if given. */
function dynamoDbAt(endpoint: string, settings?: RetrySettings): DynamoDBClient {
  const client = settings ? new DynamoDBClient({ region: LOCAL_REGION, endpoint, credentials: LOCAL_CREDENTIALS, ...settings }) : localDynamoDb(endpoint);
  started.push(client);
  return client;
}

/** A Kinesis client of `endpoint`: as the local runtime's (`localKinesis`, HTTP/1.1), with other retry settings if given. */
function kinesisAt(endpoint: string, settings?: RetrySettings): KinesisClient {
  const client = settings
    ? new KinesisClient({ region: LOCAL_REGION, endpoint, credentials: LOCAL_CREDENTIALS, requestHandler: new NodeHttpHandler(), ...settings })
    : localKinesis(endpoint);
  started.push(client);
  return client;
}

type RetryStrategyV2 = Extract<NonNullable<RetrySettings['retryStrategy']>, { acquireInitialRetryToken: unknown }>;

/**
 * The SDK's own classification of each failed attempt (THROTTLING, TRANSIENT, SERVER_ERROR, CLIENT_ERROR), as its
 * retry middleware hands it to the retry strategy. Retries what the standard strategy retries (THROTTLING and
 * TRANSIENT), up to `maxAttempts`, without its backoff (up to a second and more for throttling).
 */
function recordingRetries(maxAttempts: number): { strategy: RetryStrategyV2; errorTypes: string[] } {
  const errorTypes: string[] = [];
  const token = (retries: number) => ({ getRetryCount: () => retries, getRetryDelay: () => 0 });
  const strategy: RetryStrategyV2 = {
    acquireInitialRetryToken: async () => token(0),
    refreshRetryTokenForRetry: async (previous, { errorType }) => {
      errorTypes.push(errorType);
      const retries = previous.getRetryCount() + 1;
      if (!['THROTTLING', 'TRANSIENT'].includes(errorType) || retries >= maxAttempts) throw new Error('No retry');
      return token(retries);
    },
    recordSuccess: () => undefined,
  };
  return { strategy, errorTypes };
}

/** The error a call ends with (fails the test if it succeeds). */
async function failureOf(call: Promise<unknown>): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const error = await call.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  if (error === undefined) throw new Error('The call succeeded');
  return error;
}

/**
 * Whether the SDK failed on a connection reset. Outside Jest that is Node's error, renamed TimeoutError by the SDK's
 * HTTP handler, with code ECONNRESET. Under Jest it comes from another realm than the test's, so it is not
 * `instanceof Error` there and the SDK's retry middleware wraps it in a new Error that keeps only its text.
 */
const isConnectionReset = (error: Error) => /\bTimeoutError: read ECONNRESET$/.test(String(error)) || (error.name === 'TimeoutError' && (error as NodeJS.ErrnoException).code === 'ECONNRESET');

const noFaults = { throttle: 0, unavailable: 0, reset: 0, 'lose-response': 0, reject: 0, partial: 0 };

let itemCount = 0;
/** A key no other test uses. */
const newKey = () => ({ pk: { S: `item-${++itemCount}` } });

const putItem = (client: DynamoDBClient, key: ReturnType<typeof newKey>) => client.send(new PutItemCommand({ TableName: TABLE, Item: { ...key, name: { S: 'kept' } } }));
const addOne = (client: DynamoDBClient, key: ReturnType<typeof newKey>) =>
  client.send(new UpdateItemCommand({ TableName: TABLE, Key: key, UpdateExpression: 'ADD n :one', ExpressionAttributeValues: { ':one': { N: '1' } } }));
/** The item as dynalite has it, read past the proxy. */
const stored = async (key: ReturnType<typeof newKey>) => (await dynamoDb.send(new GetItemCommand({ TableName: TABLE, Key: key, ConsistentRead: true }))).Item;

describe('FaultProxy in front of dynalite', () => {
  it('forwards every call as it came when there is no rule, and streams the answer back as it is', async () => {
    const { proxy, url } = await proxyFor('dynamodb');
    const client = dynamoDbAt(url);
    const key = newKey();
    await putItem(client, key);
    const got = await client.send(new GetItemCommand({ TableName: TABLE, Key: key }));
    expect(got.Item).toEqual({ ...key, name: { S: 'kept' } });
    expect(got.$metadata.requestId).toMatch(/^[A-Z0-9]{52}$/); // dynalite's request id, passed through
    expect(await stored(key)).toEqual({ ...key, name: { S: 'kept' } });
    expect(proxy.stats).toEqual({ forwarded: 2, injected: noFaults, failedEntries: 0 });
  });

  it('throttles the first calls; the SDK retries until the call goes through, applied once', async () => {
    const { proxy, url } = await proxyFor('dynamodb');
    let calls = 0;
    proxy.rule = () => (++calls <= 2 ? { kind: 'throttle' } : undefined);
    const key = newKey();
    const out = await addOne(dynamoDbAt(url), key); // the default retry settings: 4 attempts for DynamoDB
    expect(out.$metadata.attempts).toBe(3);
    expect(await stored(key)).toEqual({ ...key, n: { N: '1' } });
    expect(proxy.stats).toEqual({ forwarded: 1, injected: { ...noFaults, throttle: 2 }, failedEntries: 0 });
  });

  it('throttles every call: the SDK gives up with ProvisionedThroughputExceededException, nothing applied', async () => {
    const { proxy, url } = await proxyFor('dynamodb');
    proxy.rule = () => ({ kind: 'throttle' });
    const key = newKey();
    const error = await failureOf(addOne(dynamoDbAt(url, { maxAttempts: 2 }), key));
    expect(error).toBeInstanceOf(ProvisionedThroughputExceededException);
    expect(error.name).toBe('ProvisionedThroughputExceededException');
    expect(error.message).toMatch(/^The level of configured provisioned throughput for the table was exceeded/);
    expect(error.$metadata).toMatchObject({ httpStatusCode: 400, attempts: 2 });
    expect(error.$metadata.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(await stored(key)).toBeUndefined();
    expect(proxy.stats).toEqual({ forwarded: 0, injected: { ...noFaults, throttle: 2 }, failedEntries: 0 });
  });

  it('answers 500 while unavailable: the SDK retries, then surfaces InternalServerError', async () => {
    const { proxy, url } = await proxyFor('dynamodb');
    proxy.rule = () => ({ kind: 'unavailable' });
    const key = newKey();
    const error = await failureOf(putItem(dynamoDbAt(url, { maxAttempts: 2 }), key));
    expect(error).toBeInstanceOf(InternalServerError);
    expect(error.$fault).toBe('server');
    expect(error.$metadata).toMatchObject({ httpStatusCode: 500, attempts: 2 });
    expect(await stored(key)).toBeUndefined();
    expect(proxy.stats).toEqual({ forwarded: 0, injected: { ...noFaults, unavailable: 2 }, failedEntries: 0 });
  });

  it('resets the connection: the SDK retries, then surfaces a network error, nothing applied', async () => {
    const { proxy, url } = await proxyFor('dynamodb');
    proxy.rule = () => ({ kind: 'reset' });
    const key = newKey();
    const error = await failureOf(putItem(dynamoDbAt(url, { maxAttempts: 2 }), key));
    expect(isConnectionReset(error)).toBe(true);
    expect(error.$metadata).toMatchObject({ attempts: 2 });
    expect(error.$metadata.httpStatusCode).toBeUndefined();
    expect(await stored(key)).toBeUndefined();
    expect(proxy.stats).toEqual({ forwarded: 0, injected: { ...noFaults, reset: 2 }, failedEntries: 0 });
  });

  it('loses the answer of a PutItem: the caller sees a network error, yet the item is written', async () => {
    const { proxy, url } = await proxyFor('dynamodb');
    proxy.rule = () => ({ kind: 'lose-response' });
    const key = newKey();
    const error = await failureOf(putItem(dynamoDbAt(url, { maxAttempts: 1 }), key));
    expect(isConnectionReset(error)).toBe(true);
    expect(await stored(key)).toEqual({ ...key, name: { S: 'kept' } });
    expect(proxy.stats).toEqual({ forwarded: 1, injected: { ...noFaults, 'lose-response': 1 }, failedEntries: 0 });
  });

  it('loses the answer of an UpdateItem once: the SDK retries it, and a counter is counted twice', async () => {
    const { proxy, url } = await proxyFor('dynamodb');
    let calls = 0;
    proxy.rule = () => (++calls === 1 ? { kind: 'lose-response' } : undefined);
    const key = newKey();
    const out = await addOne(dynamoDbAt(url), key);
    expect(out.$metadata.attempts).toBe(2);
    expect(await stored(key)).toEqual({ ...key, n: { N: '2' } }); // why writes must be idempotent
    expect(proxy.stats).toEqual({ forwarded: 2, injected: { ...noFaults, 'lose-response': 1 }, failedEntries: 0 });
  });

  it('rejects with a ValidationException the SDK does not retry', async () => {
    const { proxy, url } = await proxyFor('dynamodb');
    proxy.rule = () => ({ kind: 'reject', type: 'ValidationException', message: 'Item size has exceeded the maximum allowed size' });
    const key = newKey();
    const error = await failureOf(putItem(dynamoDbAt(url), key)); // 4 attempts allowed
    expect(error.name).toBe('ValidationException');
    expect(error.message).toBe('Item size has exceeded the maximum allowed size');
    expect(error.$metadata).toMatchObject({ httpStatusCode: 400, attempts: 1 });
    expect(await stored(key)).toBeUndefined();
    expect(proxy.stats).toEqual({ forwarded: 0, injected: { ...noFaults, reject: 1 }, failedEntries: 0 });
  });

  it('follows the rule as it is at each call, and forwards a call whose rule throws, reporting the error', async () => {
    const errors: unknown[] = [];
    const { proxy, url } = await proxyFor('dynamodb', { onError: (error) => errors.push(error) });
    const client = dynamoDbAt(url);
    const seen: string[] = [];
    const key = newKey();
    proxy.rule = ({ operation }) => (seen.push(operation), { kind: 'reject', type: 'ValidationException', message: 'No' });
    expect((await failureOf(addOne(client, key))).name).toBe('ValidationException');
    proxy.rule = undefined;
    await addOne(client, key);
    proxy.rule = () => {
      throw new Error('a broken rule');
    };
    await addOne(client, key);
    proxy.rule = () => ({ kind: 'partial', fail: () => true }); // PutRecords only: forwarded, reported
    await addOne(client, key);
    expect(seen).toEqual(['UpdateItem']);
    expect(await stored(key)).toEqual({ ...key, n: { N: '3' } });
    expect(errors.map(String)).toEqual(["Error: a broken rule", "Error: A 'partial' fault needs a PutRecords call with Records, not UpdateItem"]);
    expect(proxy.stats).toEqual({ forwarded: 3, injected: { ...noFaults, reject: 1 }, failedEntries: 0 });
  });

  it('passes a call that is not JSON on to the emulator, and answers 502 when the emulator is down', async () => {
    const { proxy, url } = await proxyFor('dynamodb');
    const bodies: unknown[] = [];
    proxy.rule = ({ operation, body }) => (bodies.push({ operation, body }), undefined);
    const garbage = await fetch(url, { method: 'POST', headers: { 'X-Amz-Target': 'DynamoDB_20120810.PutItem', 'Content-Type': 'application/x-amz-json-1.0' }, body: '{not json' });
    expect(garbage.status).toBe(400);
    expect(await garbage.json()).toEqual({ __type: 'com.amazon.coral.service#SerializationException' }); // dynalite's answer
    expect(bodies).toEqual([{ operation: 'PutItem', body: undefined }]);

    const errors: unknown[] = [];
    const down = new FaultProxy('http://127.0.0.1:1', 'dynamodb', { onError: (error) => errors.push(error) });
    started.push(down);
    const error = await failureOf(putItem(dynamoDbAt(await down.start(), { maxAttempts: 2 }), newKey()));
    expect(error.$metadata).toMatchObject({ httpStatusCode: 502, attempts: 2 });
    expect(errors).toHaveLength(2);
    expect(String(errors[0])).toMatch(/ECONNREFUSED/);
  });
});

let streamCount = 0;
/** A new one-shard stream, active. */
async function newStream(): Promise<string> {
  const name = `faults-${++streamCount}`;
  await kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
  while ((await kinesis.send(new DescribeStreamCommand({ StreamName: name }))).StreamDescription?.StreamStatus !== 'ACTIVE') {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return name;
}

/** The data on the stream's one shard, from its start, as kinesalite has it. */
async function dataOn(stream: string): Promise<string[]> {
  const { ShardIterator } = await kinesis.send(new GetShardIteratorCommand({ StreamName: stream, ShardId: 'shardId-000000000000', ShardIteratorType: 'TRIM_HORIZON' }));
  const { Records = [] } = await kinesis.send(new GetRecordsCommand({ ShardIterator }));
  return Records.map((record) => Buffer.from(record.Data ?? []).toString('utf8'));
}

const putRecords = (client: KinesisClient, stream: string, values: string[]) =>
  client.send(new PutRecordsCommand({ StreamName: stream, Records: values.map((value) => ({ PartitionKey: value, Data: Buffer.from(value) })) }));

describe('FaultProxy in front of kinesalite', () => {
  const values = ['r0', 'r1', 'r2', 'r3', 'r4', 'r5'];

  it('fails the chosen PutRecords entries as Kinesis does, puts the others, and merges the answers in order', async () => {
    const { proxy, url } = await proxyFor('kinesis');
    proxy.rule = ({ operation }) => (operation === 'PutRecords' ? { kind: 'partial', fail: (i) => i % 2 === 0 } : undefined);
    const stream = await newStream();
    const out = await putRecords(kinesisAt(url), stream, values);
    expect(out.FailedRecordCount).toBe(3);
    expect(out.$metadata.attempts).toBe(1);
    out.Records?.forEach((record, i) => {
      if (i % 2 === 0) {
        expect(record).toEqual({
          ErrorCode: 'ProvisionedThroughputExceededException',
          ErrorMessage: `Rate exceeded for shard shardId-000000000000 in stream ${stream} under account 000000000000.`,
        });
      } else {
        expect(record).toEqual({ SequenceNumber: expect.stringMatching(/^\d+$/), ShardId: 'shardId-000000000000' });
      }
    });
    expect(out.Records).toHaveLength(6);
    expect(await dataOn(stream)).toEqual(['r1', 'r3', 'r5']);
    expect(proxy.stats).toEqual({ forwarded: 1, injected: { ...noFaults, partial: 1 }, failedEntries: 3 });
  });

  it('fails every entry without forwarding anything', async () => {
    const { proxy, url } = await proxyFor('kinesis');
    proxy.rule = () => ({ kind: 'partial', fail: () => true });
    const stream = await newStream();
    const out = await putRecords(kinesisAt(url), stream, values);
    expect(out.FailedRecordCount).toBe(6);
    expect(out.Records?.map((record) => record.ErrorCode)).toEqual(values.map(() => 'ProvisionedThroughputExceededException'));
    expect(await dataOn(stream)).toEqual([]);
    expect(proxy.stats).toEqual({ forwarded: 0, injected: { ...noFaults, partial: 1 }, failedEntries: 6 });
  });

  it('passes a whole-call error of the emulator on as it is', async () => {
    const { proxy, url } = await proxyFor('kinesis');
    proxy.rule = () => ({ kind: 'partial', fail: (i) => i === 0 });
    const error = await failureOf(putRecords(kinesisAt(url), 'no-such-stream', values));
    expect(error.name).toBe('ResourceNotFoundException');
    expect(error.message).toBe('Stream no-such-stream under account 000000000000 not found.');
    expect(proxy.stats).toEqual({ forwarded: 1, injected: { ...noFaults, partial: 1 }, failedEntries: 1 });
  });

  it('throttles a whole PutRecords as Kinesis does', async () => {
    const { proxy, url } = await proxyFor('kinesis');
    proxy.rule = () => ({ kind: 'throttle' });
    const stream = await newStream();
    const error = await failureOf(putRecords(kinesisAt(url, { maxAttempts: 1 }), stream, values));
    expect(error).toBeInstanceOf(KinesisThrottled);
    expect(error.message).toBe(`Rate exceeded for stream ${stream} under account 000000000000.`);
    expect(await dataOn(stream)).toEqual([]);
  });
});

describe('how the SDK classifies the injected faults', () => {
  const faults: Array<[Fault, string]> = [
    [{ kind: 'throttle' }, 'THROTTLING'],
    [{ kind: 'unavailable' }, 'TRANSIENT'],
    [{ kind: 'reset' }, 'TRANSIENT'],
    [{ kind: 'lose-response' }, 'TRANSIENT'],
    [{ kind: 'reject', type: 'ValidationException', message: 'No' }, 'CLIENT_ERROR'],
  ];

  it.each(faults)('DynamoDB, %o: %s', async (fault, errorType) => {
    const { proxy, url } = await proxyFor('dynamodb');
    proxy.rule = () => fault;
    const retries = recordingRetries(3);
    await failureOf(putItem(dynamoDbAt(url, { retryStrategy: retries.strategy }), newKey()));
    expect(retries.errorTypes).toEqual(errorType === 'CLIENT_ERROR' ? [errorType] : [errorType, errorType, errorType]);
  });

  it.each(faults)('Kinesis, %o: %s', async (fault, errorType) => {
    const { proxy, url } = await proxyFor('kinesis');
    proxy.rule = () => fault;
    const retries = recordingRetries(3);
    await failureOf(putRecords(kinesisAt(url, { retryStrategy: retries.strategy }), 'no-stream-needed', ['r0']));
    expect(retries.errorTypes).toEqual(errorType === 'CLIENT_ERROR' ? [errorType] : [errorType, errorType, errorType]);
  });
});
