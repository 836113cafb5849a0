import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import * as zlib from 'node:zlib';
import type { StreamEvent } from '../../lambdas/shared/domain/event-schema';
import { badEventLine, BadEvent, MAX_PAYLOAD_CHARS } from '../../lambdas/shared/store/bad-event-store';
import { eraseFromLake, eraseFromObject, exportFromLake } from '../../lambdas/shared/store/lake-eraser';
import { DuckDbLakeObjectFinder, FileLakeObjectStore, localLake } from '../../local/lake-objects';
import { openLake } from '../../local/lake-query';
import { writeLakeBatch } from '../../local/lake-writer';
import { alias, DAY, identify, MINUTE, page, T0, track } from '../support/events';
import { kinesisEvent, kinesisRecord } from '../support/kinesis';
import { lakeObjects } from '../support/lake';

/**
 * A local lake with the person's lines among other people's, in every kind of object. Who a line belongs to is
 * written into it, independently of the code under test: message ids and bad-event ids start with `p-` for the
 * person, `h-` for the person with a hostile id, `o-` for others; error records carry it in their partition key.
 */
const PERSON = new Set(['u-1', 'anon-1']);
const HOSTILE = "x' OR '1'='1";
const PAST = new Date(Date.UTC(2000, 0, 1));

let lakeDir: string;
beforeEach(() => {
  lakeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lake-erasure-'));
});
afterEach(() => fs.rmSync(lakeDir, { recursive: true, force: true }));

/** Stream events written to the lake, in the order written (copies included). */
async function buildLake(): Promise<StreamEvent[]> {
  const at = (ms: number, messageId: string, ids: { userId?: string; anonymousId?: string }) => ({ at: ms, messageId, ...ids });
  const recent = [
    page('Home', {}, at(T0, 'p-1', { anonymousId: 'anon-1' })),
    track('Product Viewed', { name: 'Crème brûlée 🍮', quote: 'say "u-1"' }, at(T0 + MINUTE, 'o-1', { userId: 'u-2' })),
    identify({ plan: 'pro' }, at(T0 + 2 * MINUTE, 'p-2', { userId: 'u-1', anonymousId: 'anon-1' })),
    track('Product Viewed', {}, at(T0 + 3 * MINUTE, 'h-1', { userId: HOSTILE })),
    track('Product Viewed', {}, at(T0 + 4 * MINUTE, 'o-2', { userId: 'u-10' })),
    page('Home', {}, at(T0 + 5 * MINUTE, 'o-3', { anonymousId: 'anon-2' })),
  ];
  // Records that are not stream events go to errors/ (the lake writer's error output).
  const notEvents = [
    kinesisRecord({ type: 'track', userId: 'u-1', event: 'No message id' }, { partitionKey: 'p-err-1' }),
    kinesisRecord('garbage, not json', { partitionKey: 'o-err-1' }),
    kinesisRecord({ type: 'track', userId: 'u-2' }, { partitionKey: 'o-err-2' }),
  ];
  const onlyThePerson = [
    track('Order Completed', {}, at(T0 + DAY, 'p-3', { userId: 'u-1' })),
    track('Cart Viewed', {}, at(T0 + DAY + MINUTE, 'p-4', { userId: 'u-1' })),
    // Happened ten days before, sent late (an app offline).
    track('Product Viewed', {}, { ...at(T0 - 10 * DAY, 'p-6', { userId: 'u-1' }), receivedAt: T0 + DAY + 2 * MINUTE }),
  ];
  // More than a year old: no partition is left out.
  const old = [alias('anon-1', at(T0 - 400 * DAY, 'p-5', { userId: 'u-1' })), track('Product Viewed', {}, at(T0 - 400 * DAY + MINUTE, 'o-4', { userId: 'u-2' }))];
  // The same events again, received later (a client resending): another object.
  const resent = [recent[2], recent[1]].map((e) => ({ ...e, receivedAt: new Date(T0 + 2 * DAY).toISOString() }));
  for (const records of [[...recent.map((e) => kinesisRecord(e)), ...notEvents], onlyThePerson.map((e) => kinesisRecord(e)), old.map((e) => kinesisRecord(e)), resent.map((e) => kinesisRecord(e))]) {
    const outcome = await writeLakeBatch(lakeDir, kinesisEvent(records));
    if (!outcome.ok) throw new Error(JSON.stringify(outcome.error));
  }

  const bad = (id: string, event: Partial<BadEvent>) => JSON.stringify(badEventLine({ id, source: 'ingest', reason: 'invalid', payload: '', ...event }, '2024-05-01T13:00:00.000Z'));
  writeGzip('bad-events/dt=2024-05-01/hour=13/bad-events-1.json.gz', [
    bad('p-bad-1', { payload: JSON.stringify({ type: 'track', userId: 'u-1', timestamp: 'yesterday' }) }),
    bad('o-bad-1', { payload: JSON.stringify({ type: 'track', userId: 'u-2', timestamp: 'yesterday' }) }),
    bad('p-bad-2', { payload: JSON.stringify({ batch: [{ type: 'page', userId: 'u-2' }, { type: 'page', anonymousId: 'anon-1', timestamp: 'x' }] }) }),
    bad('p-bad-3', { payload: `{"type":"track","userId":"u-1","properties":{"notes":"${'n'.repeat(MAX_PAYLOAD_CHARS)}"}}` }),
    bad('o-bad-2', { payload: `{"type":"track","userId":"u-10","properties":{"notes":"${'n'.repeat(MAX_PAYLOAD_CHARS)}"}}` }),
    bad('h-bad-1', { payload: JSON.stringify({ type: 'track', userId: HOSTILE }) }),
    bad('p-bad-4', { source: 'processor', payload: 'not json', partitionKey: 'u-1' }),
  ]);
  writeGzip('bad-events/dt=2024-05-02/hour=01/bad-events-2.json.gz', [bad('o-bad-3', { payload: JSON.stringify({ userId: 'anon-2' }) })]);
  return [...recent, ...onlyThePerson, ...old, ...resent];
}

function writeGzip(key: string, lines: string[]): void {
  const file = path.join(lakeDir, key);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, zlib.gzipSync(`${lines.join('\n')}\n`));
}

/** Who a line is written for (see the top of the file). */
function ownerOf(prefix: string, line: string): string {
  const json = JSON.parse(line);
  return (prefix === 'events' ? json.messageId : prefix === 'bad-events' ? json.id : json.partitionKey).slice(0, 2);
}

const PREFIXES = ['events', 'bad-events', 'errors'];
/** Every object of the lake: prefix, key under it, lines. */
const objectsNow = () => PREFIXES.flatMap((prefix) => lakeObjects(lakeDir, prefix).map((o) => ({ prefix, ...o })));

/** Every file under the lake (temporary ones included), with its bytes and modification time. */
function filesNow(): Map<string, { bytes: Buffer; mtimeMs: number }> {
  const files = new Map<string, { bytes: Buffer; mtimeMs: number }>();
  for (const name of fs.readdirSync(lakeDir, { recursive: true }) as string[]) {
    const file = path.join(lakeDir, name);
    if (fs.statSync(file).isFile()) files.set(name, { bytes: fs.readFileSync(file), mtimeMs: fs.statSync(file).mtimeMs });
  }
  return files;
}

/** Sets every file's modification time far back, so that a file written afterwards shows. */
function ageFiles(): void {
  for (const name of filesNow().keys()) fs.utimesSync(path.join(lakeDir, name), PAST, PAST);
}

const ids = (rows: Array<Record<string, unknown>>, column: string) => rows.map((row) => row[column]);

describe('eraseFromLake over the local lake (DuckDB and files)', () => {
  it('removes the person’s lines from every object that holds them, deletes the objects that held only theirs, and leaves everything else as it was', async () => {
    await buildLake();
    ageFiles();
    const before = objectsNow();
    const person = (o: (typeof before)[number]) => o.lines.filter((line) => ownerOf(o.prefix, line) === 'p-');
    expect(before.flatMap(person)).toHaveLength(12);

    const result = await eraseFromLake(PERSON, localLake(lakeDir));

    // Objects: 4 of events/ and 1 of bad-events/ found by DuckDB, and the one of errors/ (listed).
    expect(result).toEqual({ objectsScanned: 6, objectsRewritten: 5, objectsDeleted: 1, linesRemoved: 12 });
    const after = new Map(objectsNow().map((o) => [`${o.prefix}/${o.key}`, o]));
    for (const object of before) {
      const now = after.get(`${object.prefix}/${object.key}`);
      const others = object.lines.filter((line) => ownerOf(object.prefix, line) !== 'p-');
      if (others.length === 0) {
        expect(now).toBeUndefined();
        continue;
      }
      // The other lines, exactly as they were, in the same order.
      expect(now?.lines).toEqual(others);
      // An object without the person's lines is not written at all.
      if (person(object).length === 0) expect(now?.mtimeMs).toBe(PAST.getTime());
    }
    expect(after.size).toBe(before.length - 1);

    const lake = await openLake(lakeDir);
    try {
      const theirs = `('u-1', 'anon-1')`;
      expect(await lake.run(`SELECT count(*) AS n FROM events WHERE userid IN ${theirs} OR anonymousid IN ${theirs} OR previousid IN ${theirs}`)).toEqual([{ n: 0 }]);
      const otherEvents = before.filter((o) => o.prefix === 'events').flatMap((o) => o.lines.map((line) => JSON.parse(line).messageId).filter((id) => !id.startsWith('p-')));
      expect(ids(await lake.run('SELECT messageid FROM events ORDER BY messageid'), 'messageid')).toEqual(otherEvents.sort());
      expect(ids(await lake.run('SELECT id FROM bad_events ORDER BY id'), 'id')).toEqual(['h-bad-1', 'o-bad-1', 'o-bad-2', 'o-bad-3']);
    } finally {
      lake.close();
    }
  });

  it('changes nothing when run again', async () => {
    await buildLake();
    await eraseFromLake(PERSON, localLake(lakeDir));
    ageFiles();
    const before = filesNow();

    // Only the errors/ object, which is listed rather than found, is read again.
    expect(await eraseFromLake(PERSON, localLake(lakeDir))).toEqual({ objectsScanned: 1, objectsRewritten: 0, objectsDeleted: 0, linesRemoved: 0 });
    expect(filesNow()).toEqual(before);
  });

  it('finds the objects of a hostile id, and only those, and erases only its lines', async () => {
    await buildLake();
    const finder = new DuckDbLakeObjectFinder(lakeDir);
    const recentEvents = lakeObjects(lakeDir).find((o) => o.lines.some((line) => line.includes('"h-1"')))?.key;
    expect((await finder.objectsHolding(new Set([HOSTILE]), ['events', 'bad_events'])).sort()).toEqual([
      'bad-events/dt=2024-05-01/hour=13/bad-events-1.json.gz',
      `events/${recentEvents}`,
    ]);
    const before = objectsNow();

    expect(await eraseFromLake(new Set([HOSTILE]), localLake(lakeDir))).toMatchObject({ objectsRewritten: 2, objectsDeleted: 0, linesRemoved: 2 });
    const theirs = (o: (typeof before)[number]) => o.lines.filter((line) => ownerOf(o.prefix, line) !== 'h-');
    expect(objectsNow().map((o) => o.lines)).toEqual(before.map(theirs));
  });

  it('finds the person’s objects in every partition, however old', async () => {
    await buildLake();
    const keys = await new DuckDbLakeObjectFinder(lakeDir).objectsHolding(PERSON, ['events', 'bad_events']);
    const holding = objectsNow()
      .filter((o) => o.prefix !== 'errors' && o.lines.some((line) => ownerOf(o.prefix, line) === 'p-'))
      .map((o) => `${o.prefix}/${o.key}`);
    expect(keys.sort()).toEqual(holding.sort());
    expect(keys.some((key) => key.startsWith('events/dt=2023-'))).toBe(true);
  });

  it.each([
    ['its gzip trailer', (gz: Buffer) => gz.subarray(0, gz.length - 8)],
    ['half of it', (gz: Buffer) => gz.subarray(0, Math.floor(gz.length / 2))],
  ])('fails clearly on an object missing %s, leaves it as it was, and still erases the other objects', async (_, truncate) => {
    await buildLake();
    const lines = Array.from({ length: 200 }, (_, i) => JSON.stringify({ errorCode: 'x', rawData: '', partitionKey: i % 2 ? 'u-1' : 'u-2' }));
    writeGzip('errors/dt=2024-05-01/hour=14/errors-damaged.json.gz', lines);
    const file = path.join(lakeDir, 'errors/dt=2024-05-01/hour=14/errors-damaged.json.gz');
    const damaged = truncate(fs.readFileSync(file));
    fs.writeFileSync(file, damaged);

    const erasure = eraseFromLake(PERSON, localLake(lakeDir));
    await expect(erasure).rejects.toThrow(AggregateError);
    await expect(erasure).rejects.toThrow(
      /^Erasure failed for 1 lake object\(s\) \(the other objects were erased\): errors\/dt=2024-05-01\/hour=14\/errors-damaged\.json\.gz: Lake object errors\/dt=2024-05-01\/hour=14\/errors-damaged\.json\.gz could not be read to the end \(unexpected end of file\); it was left as it is$/,
    );
    expect(fs.readFileSync(file)).toEqual(damaged);
    fs.rmSync(file);
    expect(objectsNow().flatMap((o) => o.lines.filter((line) => ownerOf(o.prefix, line) === 'p-'))).toEqual([]);
  });

  it('does nothing for no ids, and refuses a blank id', async () => {
    await buildLake();
    const before = filesNow();
    expect(await eraseFromLake(new Set(), localLake(lakeDir))).toEqual({ objectsScanned: 0, objectsRewritten: 0, objectsDeleted: 0, linesRemoved: 0 });
    await expect(eraseFromLake(new Set(['u-1', ' ']), localLake(lakeDir))).rejects.toThrow('Erasure and export need non-empty ids, got " "');
    expect(filesNow()).toEqual(before);
  });

  it('counts no object it could not find any more (deleted since it was found, as when a run is retried)', async () => {
    const lake = { finder: { objectsHolding: async () => ['events/dt=2024-05-01/hour=12/gone.json.gz'] }, objects: new FileLakeObjectStore(lakeDir) };
    expect(await eraseFromLake(PERSON, lake)).toEqual({ objectsScanned: 0, objectsRewritten: 0, objectsDeleted: 0, linesRemoved: 0 });
  });
});

describe('eraseFromObject', () => {
  it('does nothing to an object that is not there (erased or expired since it was found)', async () => {
    expect(await eraseFromObject(new FileLakeObjectStore(lakeDir), 'events/dt=2024-05-01/hour=12/gone.json.gz', PERSON)).toEqual({
      key: 'events/dt=2024-05-01/hour=12/gone.json.gz',
      outcome: 'absent',
      linesKept: 0,
      linesRemoved: 0,
    });
  });

  it('writes back the other lines byte for byte, whatever their encoding, and drops blank lines', async () => {
    const key = 'events/dt=2024-05-01/hour=12/mixed.json.gz';
    const other = Buffer.concat([Buffer.from('{"userId":"u-2","name":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}\r')]);
    const file = path.join(lakeDir, key);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, zlib.gzipSync(Buffer.concat([other, Buffer.from('\n\n{"userId":"u-1"}\n'), other])));

    expect(await eraseFromObject(new FileLakeObjectStore(lakeDir), key, PERSON)).toMatchObject({ outcome: 'rewritten', linesKept: 2, linesRemoved: 1 });
    expect(zlib.gunzipSync(fs.readFileSync(file))).toEqual(Buffer.concat([other, Buffer.from('\n'), other, Buffer.from('\n')]));
  });
});

describe('exportFromLake', () => {
  it('gives exactly the person’s events, each once (the copy received first), in the order they happened', async () => {
    const written = await buildLake();
    const firstCopies = new Map<string, StreamEvent>();
    for (const event of written) if (event.messageId.startsWith('p-') && !firstCopies.has(event.messageId)) firstCopies.set(event.messageId, event);
    const expected = [...firstCopies.values()].sort((a, b) => Date.parse(a.timestamp) - Date.parse(b.timestamp));
    expect(expected.map((e) => e.messageId)).toEqual(['p-5', 'p-6', 'p-1', 'p-2', 'p-3', 'p-4']);

    expect(await exportFromLake(PERSON, localLake(lakeDir))).toEqual(expected);
    await eraseFromLake(PERSON, localLake(lakeDir));
    expect(await exportFromLake(PERSON, localLake(lakeDir))).toEqual([]);
  });
});

describe('FileLakeObjectStore', () => {
  const store = () => new FileLakeObjectStore(lakeDir);
  const collect = async (keys: AsyncIterable<string>) => {
    const out: string[] = [];
    for await (const key of keys) out.push(key);
    return out.sort();
  };

  it('lists the objects under a prefix by key, without temporary files', async () => {
    writeGzip('errors/dt=2024-05-01/hour=12/a.json.gz', ['{}']);
    writeGzip('errors/bad-events/processing-failed/dt=2024-05-01/hour=12/b.json.gz', ['{}']);
    writeGzip('events/dt=2024-05-01/hour=12/c.json.gz', ['{}']);
    fs.writeFileSync(path.join(lakeDir, 'errors/dt=2024-05-01/hour=12/d.json.gz.tmp'), '');
    expect(await collect(store().list('errors/'))).toEqual(['errors/bad-events/processing-failed/dt=2024-05-01/hour=12/b.json.gz', 'errors/dt=2024-05-01/hour=12/a.json.gz']);
    expect(await collect(store().list('errors/dt='))).toEqual(['errors/dt=2024-05-01/hour=12/a.json.gz']);
    expect(await collect(store().list('bad-events/'))).toEqual([]);
  });

  it('replaces an object only once its whole body is written, and leaves it as it was if the body fails', async () => {
    const key = 'events/dt=2024-05-01/hour=12/x.json.gz';
    await store().write(key, Readable.from([Buffer.from('old')]));
    async function* failing() {
      yield Buffer.from('new, partly');
      throw new Error('source broke');
    }
    await expect(store().write(key, failing())).rejects.toThrow('source broke');
    expect(fs.readFileSync(path.join(lakeDir, key), 'utf8')).toBe('old');
    expect([...filesNow().keys()]).toEqual([path.join('events', 'dt=2024-05-01', 'hour=12', 'x.json.gz')]);
  });

  it('reads nothing for a missing object, deletes a missing object without error, and refuses keys outside the lake', async () => {
    expect(await store().read('events/none.json.gz')).toBeUndefined();
    await store().delete('events/none.json.gz');
    await expect(store().read('../outside.json.gz')).rejects.toThrow('Not a key inside the lake: ../outside.json.gz');
    await expect(store().delete('events/../../outside')).rejects.toThrow('Not a key inside the lake');
  });
});
