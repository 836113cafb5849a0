import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { lakeObjectQueries, LakeTableName, OBJECT_PATH_COLUMN } from '../lambdas/shared/domain/lake-erasure';
import type { LakeAccess, LakeObjectFinder } from '../lambdas/shared/store/lake-eraser';
import type { LakeObjectStore } from '../lambdas/shared/store/lake-objects';
import { openLake } from './lake-query';

/**
 * The local lake (files under `<dataDir>/lake/`, written by local/lake-writer.ts and local/firehose.ts) as erasure
 * sees the S3 lake: objects by key (`events/dt=…/hour=…/….json.gz`, '/'-separated whatever the platform), and
 * DuckDB in place of Athena to find them.
 */

/** Erasure and export over the local lake under `lakeDir`. */
export function localLake(lakeDir: string): LakeAccess {
  return { finder: new DuckDbLakeObjectFinder(lakeDir), objects: new FileLakeObjectStore(lakeDir) };
}

/** Suffix of the temporary file an object is written to before it is renamed into place (as local/lake-writer.ts names it). */
const TEMPORARY_SUFFIX = '.tmp';

/**
 * Objects as files under the lake directory. A write goes to a temporary file next to the object, is flushed to
 * disk, then renamed over the object, as the lake writer's `writeGzipAtomically` does; it streams instead of taking
 * the whole body (which that function compresses in memory), so it does not reuse it. Temporary files are not
 * objects: `list` leaves them out.
 */
export class FileLakeObjectStore implements LakeObjectStore {
  constructor(private readonly lakeDir: string) {}

  async *list(prefix: string): AsyncGenerator<string> {
    // The directory holding every key with this prefix (the prefix up to its last '/').
    const dir = prefix.slice(0, prefix.lastIndexOf('/') + 1);
    const names = await fs.promises.readdir(this.fileOf(dir), { recursive: true, withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return [];
      throw error;
    });
    for (const entry of names) {
      if (!entry.isFile() || entry.name.endsWith(TEMPORARY_SUFFIX)) continue;
      const key = path.relative(this.lakeDir, path.join(entry.parentPath, entry.name)).split(path.sep).join('/');
      if (key.startsWith(prefix)) yield key;
    }
  }

  async read(key: string): Promise<Readable | undefined> {
    const handle = await fs.promises.open(this.fileOf(key), 'r').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    return handle?.createReadStream();
  }

  async write(key: string, body: AsyncIterable<Uint8Array>): Promise<void> {
    const file = this.fileOf(key);
    const tmp = `${file}${TEMPORARY_SUFFIX}`;
    await fs.promises.mkdir(path.dirname(file), { recursive: true });
    const handle = await fs.promises.open(tmp, 'w');
    try {
      for await (const chunk of body) await handle.write(chunk);
      await handle.sync();
    } catch (error) {
      await handle.close();
      await fs.promises.rm(tmp, { force: true });
      throw error;
    }
    await handle.close();
    await fs.promises.rename(tmp, file);
  }

  async delete(key: string): Promise<void> {
    await fs.promises.rm(this.fileOf(key), { force: true });
  }

  /** The file of a key, refusing keys that would leave the lake directory. */
  private fileOf(key: string): string {
    const root = path.resolve(this.lakeDir);
    const file = path.resolve(root, ...key.split('/'));
    if (file !== root && !file.startsWith(`${root}${path.sep}`)) throw new Error(`Not a key inside the lake: ${key}`);
    return file;
  }
}

/**
 * Finds objects with DuckDB over the lake: the queries Athena runs (`lakeObjectQueries`), unchanged, on a lake
 * opened with Athena's `"$path"` column. The lake is opened for each search, so objects written since are seen.
 */
export class DuckDbLakeObjectFinder implements LakeObjectFinder {
  constructor(private readonly lakeDir: string) {}

  async objectsHolding(ids: ReadonlySet<string>, tables: readonly LakeTableName[]): Promise<string[]> {
    const lake = await openLake(this.lakeDir, { paths: true });
    try {
      const keys = new Set<string>();
      for (const sql of lakeObjectQueries(ids, tables)) {
        for (const row of await lake.run(sql)) keys.add(path.relative(this.lakeDir, String(row[OBJECT_PATH_COLUMN])).split(path.sep).join('/'));
      }
      return [...keys];
    } finally {
      lake.close();
    }
  }
}
