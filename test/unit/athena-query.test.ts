import { Readable } from 'node:stream';
import { AthenaClient, GetQueryExecutionCommand, StartQueryExecutionCommand, StopQueryExecutionCommand } from '@aws-sdk/client-athena';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { csvRecords, runAthenaQuery } from '../../lambdas/shared/store/athena-query';

const athena = mockClient(AthenaClient);
const s3 = mockClient(S3Client);
const clients = () => ({ athena: new AthenaClient({ region: 'us-east-1' }), s3: new S3Client({ region: 'us-east-1' }) });
const QUERY = { sql: 'SELECT 1', workGroup: 'analytics', database: 'lake' };

async function collect<T>(rows: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const row of rows) out.push(row);
  return out;
}

/** Chunks cut at awkward places: inside quotes, between a quote and its escape, in a multi-byte character. */
function* chunked(text: string, size: number): Generator<Uint8Array> {
  const bytes = Buffer.from(text);
  for (let k = 0; k < bytes.length; k += size) yield bytes.subarray(k, k + size);
}

describe('csvRecords', () => {
  const csv = '"subject","item_id","n","category"\n"user#a","x,1","3",""\n"anon#b","say ""hi""\nagain","12",\n"user#é","z","1","Shoes"\n';
  const expected = [
    { subject: 'user#a', item_id: 'x,1', n: '3', category: '' },
    { subject: 'anon#b', item_id: 'say "hi"\nagain', n: '12', category: '' },
    { subject: 'user#é', item_id: 'z', n: '1', category: 'Shoes' },
  ];

  it.each([1, 2, 3, 7, 1000])('reads quoted fields, escaped quotes, newlines in fields and NULLs, in chunks of %i bytes', async (size) => {
    expect(await collect(csvRecords(chunked(csv, size)))).toEqual(expected);
  });

  it('reads a last line without a newline, and CRLF line ends', async () => {
    expect(await collect(csvRecords(['"a","b"\r\n"1","2"\r\n"3","4"']))).toEqual([
      { a: '1', b: '2' },
      { a: '3', b: '4' },
    ]);
  });

  it('gives nothing for a result with only its header', async () => {
    expect(await collect(csvRecords(['"a","b"\n']))).toEqual([]);
  });
});

describe('runAthenaQuery', () => {
  beforeEach(() => {
    athena.reset();
    s3.reset();
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-1' });
  });

  it('starts the query in the workgroup and database, waits for it, and streams the CSV result from S3', async () => {
    athena
      .on(GetQueryExecutionCommand)
      .resolvesOnce({ QueryExecution: { Status: { State: 'RUNNING' } } })
      .resolves({
        QueryExecution: {
          Status: { State: 'SUCCEEDED' },
          ResultConfiguration: { OutputLocation: 's3://results-bucket/results/q-1.csv' },
          Statistics: { DataScannedInBytes: 1234, EngineExecutionTimeInMillis: 56 },
        },
      });
    s3.on(GetObjectCommand, { Bucket: 'results-bucket', Key: 'results/q-1.csv' }).resolves({ Body: Readable.from([Buffer.from('"a"\n"1"\n"2"\n')]) as never });

    const { stats, rows } = await runAthenaQuery(clients(), QUERY, { pollMs: 1 });
    expect(stats).toEqual({ queryExecutionId: 'q-1', dataScannedBytes: 1234, engineMs: 56 });
    expect(await collect(rows)).toEqual([{ a: '1' }, { a: '2' }]);
    expect(athena.commandCalls(StartQueryExecutionCommand)[0].args[0].input).toEqual({
      QueryString: 'SELECT 1',
      WorkGroup: 'analytics',
      QueryExecutionContext: { Database: 'lake' },
    });
  });

  it('fails with Athena’s reason when the query fails', async () => {
    athena.on(GetQueryExecutionCommand).resolves({ QueryExecution: { Status: { State: 'FAILED', StateChangeReason: 'Query exhausted resources' } } });
    await expect(runAthenaQuery(clients(), QUERY, { pollMs: 1 })).rejects.toThrow(/q-1 failed: Query exhausted resources/);
  });

  it('stops a query that outlives its time limit', async () => {
    athena.on(GetQueryExecutionCommand).resolves({ QueryExecution: { Status: { State: 'RUNNING' } } });
    athena.on(StopQueryExecutionCommand).resolves({});
    await expect(runAthenaQuery(clients(), QUERY, { pollMs: 5, timeoutMs: 20 })).rejects.toThrow(/did not finish .* it was stopped/);
    expect(athena.commandCalls(StopQueryExecutionCommand)).toHaveLength(1);
  });
});
