import { Readable } from 'node:stream';
import * as zlib from 'node:zlib';
import { AthenaClient, GetQueryExecutionCommand, StartQueryExecutionCommand } from '@aws-sdk/client-athena';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { AthenaLakeObjectFinder, eraseFromLake, exportFromLake, LakeAccess } from '../../lambdas/shared/store/lake-eraser';
import { S3LakeObjectStore } from '../../lambdas/shared/store/lake-objects';
import { T0, track } from '../support/events';

const athena = mockClient(AthenaClient);
const s3 = mockClient(S3Client);
const LAKE = 'lake-bucket';
const RESULTS = 'results-bucket';
const MIB = 1024 * 1024;
const client = () => new S3Client({ region: 'us-east-1' });

beforeEach(() => {
  athena.reset();
  s3.reset();
});

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/** `n` bytes of a repeated byte, in chunks of `chunk` bytes. */
async function* bytes(n: number, chunk: number, fill = 7): AsyncGenerator<Uint8Array> {
  for (let sent = 0; sent < n; sent += chunk) yield new Uint8Array(Math.min(chunk, n - sent)).fill(fill);
}

describe('S3LakeObjectStore', () => {
  it('lists every key under a prefix, page by page', async () => {
    s3.on(ListObjectsV2Command, { Bucket: LAKE, Prefix: 'errors/', ContinuationToken: undefined })
      .resolves({ Contents: [{ Key: 'errors/a.json.gz' }, { Key: 'errors/b.json.gz' }], IsTruncated: true, NextContinuationToken: 'page-2' })
      .on(ListObjectsV2Command, { Bucket: LAKE, Prefix: 'errors/', ContinuationToken: 'page-2' })
      .resolves({ Contents: [{ Key: 'errors/c.json.gz' }], IsTruncated: false });
    expect(await collect(new S3LakeObjectStore(client(), LAKE).list('errors/'))).toEqual(['errors/a.json.gz', 'errors/b.json.gz', 'errors/c.json.gz']);
    expect(s3.commandCalls(ListObjectsV2Command)).toHaveLength(2);
  });

  it('reads an object as a stream, and nothing when there is no such key', async () => {
    s3.on(GetObjectCommand, { Bucket: LAKE, Key: 'events/a.json.gz' })
      .resolves({ Body: Readable.from([Buffer.from('gz bytes')]) as never })
      .on(GetObjectCommand, { Bucket: LAKE, Key: 'events/gone.json.gz' })
      .rejects(new NoSuchKey({ message: 'The specified key does not exist.', $metadata: {} }));
    const store = new S3LakeObjectStore(client(), LAKE);
    expect(Buffer.concat(await collect((await store.read('events/a.json.gz')) as Readable))).toEqual(Buffer.from('gz bytes'));
    expect(await store.read('events/gone.json.gz')).toBeUndefined();
  });

  it('writes a body of up to one part (exactly one here) with one PutObject', async () => {
    s3.on(PutObjectCommand).resolves({});
    await new S3LakeObjectStore(client(), LAKE, 5 * MIB).write('events/a.json.gz', bytes(5 * MIB, 64 * 1024));
    const [put] = s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
    expect(put).toMatchObject({ Bucket: LAKE, Key: 'events/a.json.gz' });
    // (toEqual on megabytes is very slow.)
    expect(Buffer.compare(put.Body as Buffer, Buffer.alloc(5 * MIB, 7))).toBe(0);
    expect(s3.commandCalls(CreateMultipartUploadCommand)).toHaveLength(0);
  });

  it('writes a larger body as a multipart upload of whole parts, completed in order', async () => {
    s3.on(CreateMultipartUploadCommand).resolves({ UploadId: 'up-1' });
    s3.on(UploadPartCommand).callsFake((input) => ({ ETag: `"etag-${input.PartNumber}"` }));
    s3.on(CompleteMultipartUploadCommand).resolves({});
    await new S3LakeObjectStore(client(), LAKE, 5 * MIB).write('events/a.json.gz', bytes(12 * MIB + 3, 1000 * 1000));

    const parts = s3.commandCalls(UploadPartCommand).map((c) => c.args[0].input);
    expect(parts.map((p) => [p.UploadId, p.Key, p.PartNumber, (p.Body as Buffer).length])).toEqual([
      ['up-1', 'events/a.json.gz', 1, 5 * MIB],
      ['up-1', 'events/a.json.gz', 2, 5 * MIB],
      ['up-1', 'events/a.json.gz', 3, 2 * MIB + 3],
    ]);
    expect(s3.commandCalls(CompleteMultipartUploadCommand)[0].args[0].input).toEqual({
      Bucket: LAKE,
      Key: 'events/a.json.gz',
      UploadId: 'up-1',
      MultipartUpload: { Parts: [1, 2, 3].map((n) => ({ ETag: `"etag-${n}"`, PartNumber: n })) },
    });
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(0);
  });

  it('aborts the upload, and completes nothing, when the body fails', async () => {
    s3.on(CreateMultipartUploadCommand).resolves({ UploadId: 'up-1' });
    s3.on(UploadPartCommand).resolves({ ETag: '"e"' });
    s3.on(AbortMultipartUploadCommand).resolves({});
    async function* failing() {
      yield* bytes(11 * MIB, MIB);
      throw new Error('source broke');
    }
    await expect(new S3LakeObjectStore(client(), LAKE, 5 * MIB).write('events/a.json.gz', failing())).rejects.toThrow('source broke');
    expect(s3.commandCalls(AbortMultipartUploadCommand)[0].args[0].input).toEqual({ Bucket: LAKE, Key: 'events/a.json.gz', UploadId: 'up-1' });
    expect(s3.commandCalls(CompleteMultipartUploadCommand)).toHaveLength(0);
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(0);
  });

  it('refuses parts smaller than S3 allows', () => {
    expect(() => new S3LakeObjectStore(client(), LAKE, MIB)).toThrow(/partBytes must be at least 5242880/);
  });
});

/** Athena answering the queries, in the order they are started, with these lists of paths (as its CSV results). */
function athenaAnswers(...results: string[][]): void {
  const pending = [...results];
  const paths = new Map<string, string[]>();
  athena.on(StartQueryExecutionCommand).callsFake(() => {
    const id = `q-${paths.size}`;
    paths.set(id, pending.shift() ?? []);
    return { QueryExecutionId: id };
  });
  athena.on(GetQueryExecutionCommand).callsFake(({ QueryExecutionId: id }) => ({
    QueryExecution: { Status: { State: 'SUCCEEDED' }, ResultConfiguration: { OutputLocation: `s3://${RESULTS}/results/${id}.csv` }, Statistics: { DataScannedInBytes: 10 } },
  }));
  s3.on(GetObjectCommand, { Bucket: RESULTS }).callsFake(({ Key }) => {
    const rows = paths.get(Key.replace(/^results\/(.+)\.csv$/, '$1')) ?? [];
    return { Body: Readable.from([Buffer.from(`"object_path"\n${rows.map((p) => `"${p}"\n`).join('')}`)]) };
  });
}

const finder = () =>
  new AthenaLakeObjectFinder(
    { athena: new AthenaClient({ region: 'us-east-1' }), s3: client() },
    { workGroup: 'analytics', database: 'lake_db', bucket: LAKE, query: { pollMs: 1 } },
  );

describe('AthenaLakeObjectFinder', () => {
  it('runs one query per table in the lake database, with the ids as escaped literals, and gives the objects’ keys', async () => {
    athenaAnswers([`s3://${LAKE}/events/dt=2023-01-01/hour=00/a.json.gz`, `s3://${LAKE}/events/dt=2024-05-01/hour=12/b.json.gz`], [`s3://${LAKE}/bad-events/dt=2024-05-01/hour=12/c.json.gz`]);
    const keys = await finder().objectsHolding(new Set(["x' OR '1'='1"]), ['events', 'bad_events']);

    expect(keys).toEqual(['events/dt=2023-01-01/hour=00/a.json.gz', 'events/dt=2024-05-01/hour=12/b.json.gz', 'bad-events/dt=2024-05-01/hour=12/c.json.gz']);
    const started = athena.commandCalls(StartQueryExecutionCommand).map((c) => c.args[0].input);
    expect(started.map((input) => [input.WorkGroup, input.QueryExecutionContext?.Database])).toEqual([
      ['analytics', 'lake_db'],
      ['analytics', 'lake_db'],
    ]);
    expect(started[0].QueryString).toBe(
      `SELECT DISTINCT "$path" AS object_path FROM events WHERE userid IN ('x'' OR ''1''=''1') OR anonymousid IN ('x'' OR ''1''=''1') OR previousid IN ('x'' OR ''1''=''1')`,
    );
    expect(started[1].QueryString).toMatch(/^SELECT DISTINCT "\$path" AS object_path FROM bad_events WHERE /);
  });

  it('refuses a path outside the lake bucket', async () => {
    athenaAnswers(['s3://another-bucket/events/a.json.gz']);
    await expect(finder().objectsHolding(new Set(['u-1']), ['events'])).rejects.toThrow(
      'Athena gave s3://another-bucket/events/a.json.gz, which is not an object of the lake bucket lake-bucket',
    );
  });
});

describe('eraseFromLake and exportFromLake in AWS (Athena and S3, mocked)', () => {
  /** The lake bucket, in memory, behind the mocked S3 commands the store sends. */
  function s3Lake(objects: Map<string, Buffer>): LakeAccess {
    s3.on(GetObjectCommand, { Bucket: LAKE }).callsFake(({ Key }) => {
      const body = objects.get(Key);
      if (!body) throw new NoSuchKey({ message: 'The specified key does not exist.', $metadata: {} });
      return { Body: Readable.from([body]) };
    });
    s3.on(PutObjectCommand, { Bucket: LAKE }).callsFake(({ Key, Body }) => {
      objects.set(Key, Body);
      return {};
    });
    s3.on(DeleteObjectCommand, { Bucket: LAKE }).callsFake(({ Key }) => {
      objects.delete(Key);
      return {};
    });
    s3.on(ListObjectsV2Command, { Bucket: LAKE }).callsFake(({ Prefix }) => ({ Contents: [...objects.keys()].filter((k) => k.startsWith(Prefix)).map((Key) => ({ Key })) }));
    return { finder: finder(), objects: new S3LakeObjectStore(client(), LAKE) };
  }
  const gz = (lines: unknown[]) => zlib.gzipSync(lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
  const linesOf = (body: Buffer | undefined) => (body ? zlib.gunzipSync(body).toString('utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : undefined);

  const mine = track('Viewed', {}, { userId: 'u-1', messageId: 'm-1', at: T0 });
  const alsoMine = track('Viewed', {}, { anonymousId: 'anon-1', messageId: 'm-2', at: T0 - 1000 });
  const theirs = track('Viewed', {}, { userId: 'u-2', messageId: 'm-3', at: T0 });
  const badTheirs = { id: 'b-2', source: 'ingest', reason: 'r', payload: '{"userId":"u-2"}', truncated: false, detectedAt: '2024-05-01T12:00:00.000Z' };
  const keys = { mixed: 'events/dt=2024-05-01/hour=12/mixed.json.gz', onlyMine: 'events/dt=2024-05-01/hour=11/mine.json.gz', bad: 'bad-events/dt=2024-05-01/hour=12/bad.json.gz' };

  it('rewrites the objects Athena found without the person’s lines, deletes those holding only theirs, and exports their events', async () => {
    const objects = new Map([
      [keys.mixed, gz([mine, theirs])],
      [keys.onlyMine, gz([alsoMine])],
      [keys.bad, gz([{ ...badTheirs, id: 'b-1', payload: '{"userId":"u-1","cut' }, badTheirs])],
      ['errors/events/processing-failed/dt=2024-05-01/hour=12/e.json.gz', gz([{ rawData: Buffer.from('{"anonymousId":"anon-2"}').toString('base64') }])],
    ]);
    const lake = s3Lake(objects);
    const uri = (key: string) => `s3://${LAKE}/${key}`;

    // The export's query of events, then the erasure's of events and bad_events.
    athenaAnswers([uri(keys.mixed), uri(keys.onlyMine)], [uri(keys.mixed), uri(keys.onlyMine)], [uri(keys.bad)]);
    expect(await exportFromLake(new Set(['u-1', 'anon-1']), lake)).toEqual([alsoMine, mine]);

    expect(await eraseFromLake(new Set(['u-1', 'anon-1']), lake)).toEqual({ objectsScanned: 4, objectsRewritten: 2, objectsDeleted: 1, linesRemoved: 3 });
    expect(linesOf(objects.get(keys.mixed))).toEqual([theirs]);
    expect(objects.has(keys.onlyMine)).toBe(false);
    expect(linesOf(objects.get(keys.bad))).toEqual([badTheirs]);
    // Nothing of the person's in the error output: not written.
    expect(s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input.Key).sort()).toEqual([keys.bad, keys.mixed]);
  });
});
