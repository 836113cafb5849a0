import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import * as path from 'node:path';
import { PUT_RECORD_BATCH_LIMITS } from '../lambdas/shared/store/bad-event-store';
import { awsJsonServer } from './aws-json';
import { compactUtc, pad, writeGzipAtomically } from './lake-writer';
import { LOCAL_ACCOUNT, LocalDeliveryStream } from './template-model';

/**
 * A minimal Kinesis Data Firehose endpoint (AWS JSON 1.1 protocol) for the template's Direct PUT delivery streams:
 * `PutRecordBatch` and `PutRecord`, every other action refused. Firehose buffers records and writes them to S3
 * later; this writes each call's records at once, as one gzip object of the local lake:
 *
 *   <lakeDir>/<Prefix, its !{timestamp:…} expanded at the time of the call, UTC>/<name>-<yyyyMMddHHmmss>-<uuid>.json.gz
 *
 * The object holds the records' data concatenated as they are (as Firehose does without processors), so records
 * must end with their own newline to make JSON lines, unless the delivery stream appends one to each (its
 * `AppendDelimiterToRecord` processor). It is written atomically (temporary file, fsync, rename), and the call is
 * answered only once it is on disk, so an answered record is never lost. Records are never failed one by one
 * (`FailedPutCount` is always 0); a write that fails fails the whole call with a 500. `deliverRecords` is the same
 * delivery, for the local EventBridge's rules.
 */
export function firehoseStub(deliveryStreams: readonly LocalDeliveryStream[], lakeDir: string, now: () => number = Date.now): Server {
  // A prefix Firehose would refuse is refused now, not on the first call.
  for (const d of deliveryStreams) if (d.type === 'DirectPut') expandPrefix(d.prefix, now());

  return awsJsonServer((target, body, reply) => {
    const fail = (status: number, type: string, message: string) => reply(status, { __type: type, message });

    const action = target.replace(/^Firehose_20150804\./, '');
    if (action !== 'PutRecordBatch' && action !== 'PutRecord') {
      return fail(400, 'InvalidArgumentException', `The local Firehose only supports PutRecordBatch and PutRecord, not ${target || '(no X-Amz-Target)'}`);
    }
    let input: { DeliveryStreamName?: unknown; Records?: unknown; Record?: unknown };
    try {
      input = JSON.parse(body.toString('utf8'));
    } catch {
      return fail(400, 'SerializationException', 'Malformed request body');
    }

    const name = String(input.DeliveryStreamName ?? '');
    const stream = deliveryStreams.find((d) => d.name === name);
    if (!stream) return fail(400, 'ResourceNotFoundException', `Firehose ${name} under account ${LOCAL_ACCOUNT} not found.`);
    if (stream.type !== 'DirectPut') return fail(400, 'InvalidArgumentException', `This operation is not permitted on KinesisStreamAsSource type.`);

    const records = (action === 'PutRecord' ? [input.Record] : Array.isArray(input.Records) ? input.Records : []) as Array<{ Data?: unknown }>;
    const data = records.map((r) => (typeof r?.Data === 'string' ? Buffer.from(r.Data, 'base64') : undefined));
    const { maxEntries, maxBytes, maxEntryBytes } = PUT_RECORD_BATCH_LIMITS;
    if (data.length === 0 || data.length > maxEntries || data.some((d) => d === undefined)) {
      return fail(400, 'ValidationException', `Records must hold 1 to ${maxEntries} records, each with base64 Data`);
    }
    const bodies = data as Buffer[];
    if (bodies.some((d) => d.byteLength > maxEntryBytes)) return fail(400, 'ValidationException', `A record is larger than ${maxEntryBytes} bytes`);
    if (bodies.reduce((sum, d) => sum + d.byteLength, 0) > maxBytes) return fail(400, 'InvalidArgumentException', `Records are larger than ${maxBytes} bytes in all`);

    deliverRecords(stream, lakeDir, bodies, now()).then(
      () => {
        const recordIds = bodies.map(() => randomUUID());
        if (action === 'PutRecord') return reply(200, { RecordId: recordIds[0], Encrypted: false });
        return reply(200, { FailedPutCount: 0, Encrypted: false, RequestResponses: recordIds.map((RecordId) => ({ RecordId })) });
      },
      (error: Error) => fail(500, 'ServiceUnavailableException', `The local Firehose could not write ${stream.name}'s records: ${error.message}`),
    );
  });
}

/**
 * Delivers records to a Direct PUT delivery stream at time `at` (epoch ms): one gzip object under the stream's
 * prefix, expanded at `at`, holding the records concatenated, each followed by a newline if the stream appends one.
 * Resolves with the object's path once it is on disk.
 */
export async function deliverRecords(stream: LocalDeliveryStream, lakeDir: string, records: readonly Buffer[], at: number): Promise<string> {
  const data = stream.appendsNewline ? records.flatMap((record) => [record, NEWLINE]) : records;
  const file = path.join(lakeDir, expandPrefix(stream.prefix, at), `${stream.name}-${compactUtc(at)}-${randomUUID()}.json.gz`);
  await writeGzipAtomically(file, Buffer.concat(data));
  return file;
}

const NEWLINE = Buffer.from('\n');

/** The pattern letters of `!{timestamp:…}` the local Firehose knows (Java DateTimeFormatter's, in UTC). */
const TIMESTAMP_FIELDS: Record<string, (d: Date) => string> = {
  yyyy: (d) => String(d.getUTCFullYear()),
  MM: (d) => pad(d.getUTCMonth() + 1),
  dd: (d) => pad(d.getUTCDate()),
  HH: (d) => pad(d.getUTCHours()),
  mm: (d) => pad(d.getUTCMinutes()),
  ss: (d) => pad(d.getUTCSeconds()),
};

/**
 * Firehose's custom S3 prefix at time `at` (epoch ms): each `!{timestamp:<pattern>}` is formatted in UTC. As in
 * Firehose, a prefix without a timestamp expression gets `!{timestamp:yyyy/MM/dd/HH/}` appended. Other namespaces
 * (`!{firehose:…}`, `!{partitionKeyFrom…:…}`) are not emulated and throw.
 */
export function expandPrefix(prefix: string, at: number): string {
  const withTime = prefix.includes('!{timestamp:') ? prefix : `${prefix}!{timestamp:yyyy/MM/dd/HH/}`;
  const d = new Date(at);
  return withTime.replace(/!\{([^}]*)\}/g, (expression, body: string) => {
    if (!body.startsWith('timestamp:')) throw new Error(`The local Firehose cannot expand ${expression} in the prefix ${prefix}`);
    return body.slice('timestamp:'.length).replace(/yyyy|MM|dd|HH|mm|ss|[A-Za-z]+/g, (token) => {
      const field = TIMESTAMP_FIELDS[token];
      if (!field) throw new Error(`The local Firehose cannot format "${token}" in ${expression} (knows yyyy, MM, dd, HH, mm, ss)`);
      return field(d);
    });
  });
}
