import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompletedPart,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';

/**
 * The objects of the event lake, by key (`events/dt=…/hour=…/….json.gz`): what erasure reads, rewrites and
 * deletes. S3 in AWS (`S3LakeObjectStore`), files under the lake directory locally (local/lake-objects.ts).
 * Bodies are streams, so an object is never held whole in memory.
 */
export interface LakeObjectStore {
  /** Keys of every object whose key starts with `prefix`. */
  list(prefix: string): AsyncIterable<string>;
  /** The object's bytes, streamed; undefined when there is no such object. */
  read(key: string): Promise<Readable | undefined>;
  /**
   * Replaces (or creates) the object with `body`, all or nothing: if `body` fails, the object is left as it was.
   */
  write(key: string, body: AsyncIterable<Uint8Array>): Promise<void>;
  /** Deletes the object; deleting one that does not exist is not an error. */
  delete(key: string): Promise<void>;
}

/** S3's smallest part of a multipart upload (but the last). */
const MIN_PART_BYTES = 5 * 1024 * 1024;

/**
 * The lake in an S3 bucket. A write of up to one part (`partBytes`, 8 MiB by default) is one PutObject; a larger
 * one a multipart upload of such parts, aborted if the body fails, so memory stays at one to two parts whatever the
 * object's size. Either way S3 replaces the object only when the upload completes.
 */
export class S3LakeObjectStore implements LakeObjectStore {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly partBytes: number = 8 * 1024 * 1024,
  ) {
    if (!(partBytes >= MIN_PART_BYTES)) throw new Error(`partBytes must be at least ${MIN_PART_BYTES} (S3's smallest part), got ${partBytes}`);
  }

  async *list(prefix: string): AsyncGenerator<string> {
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }));
      for (const object of page.Contents ?? []) if (object.Key !== undefined) yield object.Key;
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async read(key: string): Promise<Readable | undefined> {
    try {
      const { Body } = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      if (!Body) throw new Error(`S3 returned no body for s3://${this.bucket}/${key}`);
      // In Node.js the SDK's body is a Readable (http.IncomingMessage).
      return Body as Readable;
    } catch (error) {
      if ((error as Error).name === 'NoSuchKey') return undefined;
      throw error;
    }
  }

  async write(key: string, body: AsyncIterable<Uint8Array>): Promise<void> {
    let uploadId: string | undefined;
    const uploaded: CompletedPart[] = [];
    // A part is sent once the next one exists, so the last (possibly only) part is known when the body ends.
    let pending: Buffer | undefined;
    try {
      for await (const part of chunksOf(body, this.partBytes)) {
        if (pending) {
          uploadId ??= await this.startUpload(key);
          uploaded.push(await this.uploadPart(key, uploadId, uploaded.length + 1, pending));
        }
        pending = part;
      }
      if (uploadId === undefined) {
        await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: pending ?? Buffer.alloc(0) }));
        return;
      }
      uploaded.push(await this.uploadPart(key, uploadId, uploaded.length + 1, pending as Buffer));
      await this.client.send(
        new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: uploaded } }),
      );
    } catch (error) {
      if (uploadId !== undefined) {
        // Best effort: the bucket's lifecycle rule aborts incomplete uploads after a day anyway.
        await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId })).catch(() => undefined);
      }
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }

  private async startUpload(key: string): Promise<string> {
    const { UploadId } = await this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key }));
    if (!UploadId) throw new Error(`S3 returned no upload id for s3://${this.bucket}/${key}`);
    return UploadId;
  }

  private async uploadPart(key: string, uploadId: string, partNumber: number, part: Buffer): Promise<CompletedPart> {
    const { ETag } = await this.client.send(new UploadPartCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumber: partNumber, Body: part }));
    return { ETag, PartNumber: partNumber };
  }
}

/** The bytes of `body` in chunks of exactly `size` bytes, the last one shorter (none for an empty body). */
async function* chunksOf(body: AsyncIterable<Uint8Array>, size: number): AsyncGenerator<Buffer> {
  let pieces: Buffer[] = [];
  let length = 0;
  for await (const data of body) {
    // A copy: a producer may reuse its buffer for the next chunk while this one waits in `pieces`.
    let bytes = Buffer.from(data);
    while (length + bytes.length >= size) {
      const take = size - length;
      yield Buffer.concat([...pieces, bytes.subarray(0, take)]);
      bytes = bytes.subarray(take);
      pieces = [];
      length = 0;
    }
    if (bytes.length > 0) {
      pieces.push(bytes);
      length += bytes.length;
    }
  }
  if (length > 0) yield Buffer.concat(pieces);
}
