import * as fs from 'node:fs';
import * as readline from 'node:readline';
import { LIMITS } from '../lambdas/shared/domain/event-schema';
import { isPlainObject } from '../lambdas/shared/domain/json';
import { sleep } from '../lambdas/shared/store/retry';
import { basicAuthorization } from './clients';

/**
 * Replays a JSON-lines file of Segment messages into a running instance (local or deployed) through
 * `POST /v1/batch`, as an SDK would send them: batched, a few requests in flight, retrying what the API asks to
 * retry, never resending what it accepted.
 */

export interface ReplayOptions {
  /** JSON-lines file: one Segment message per line; blank lines are ignored. */
  file: string;
  /** Base URL of the instance, e.g. `http://127.0.0.1:3000`. */
  url: string;
  writeKey: string;
  /** Events per request (a request is also kept under the API's 500 KB limit). @default 100 */
  batchSize?: number;
  /** Requests in flight. @default 4 */
  concurrency?: number;
  /** Tries per request when the API answers 429 or 5xx, or cannot be reached. @default 5 */
  maxAttempts?: number;
  /** First retry delay, doubling per attempt; a longer `Retry-After` wins. @default 250 */
  retryBaseDelayMs?: number;
  /** Called whenever a request is answered (and once reading ends). */
  onProgress?: (progress: ReplayProgress) => void;
}

export interface ReplayProgress {
  /** Bytes of the file dealt with: read and answered, or skipped. */
  bytesDone: number;
  totalBytes: number;
  /** Events the API answered for (every line that is JSON, unless the API could not be reached). */
  sent: number;
  accepted: number;
  /** Lines that are not JSON, and events the API rejected. */
  rejected: number;
  /** Events the API did not take: retries used up, the API unreachable, or the replay aborted. */
  failed: number;
  elapsedMs: number;
}

/** Rejections with one reason. */
export interface RejectionGroup {
  reason: string;
  count: number;
  /** 1-based line numbers of the first few. */
  lines: number[];
}

export interface ReplaySummary extends ReplayProgress {
  /** Most frequent reason first. */
  rejections: RejectionGroup[];
  /** Sent events per second. */
  eventsPerSecond: number;
  /** Why the replay stopped before the end of the file (instance unreachable, write key refused…). */
  aborted?: string;
  /** Why the last batch that `failed` was given up. */
  lastFailure?: string;
}

/** One line of the file on its way to the API. */
interface Line {
  number: number;
  /** The event as sent. */
  json: string;
  /** Size in the request body. */
  bodyBytes: number;
  /** Size in the file (for progress). */
  fileBytes: number;
}

/** Room left in a request body for `{"batch":[…]}` around the events. */
const REQUEST_FRAMING_BYTES = 64;
const MAX_REASONS = 50;
const LINES_PER_REASON = 5;
const REQUEST_TIMEOUT_MS = 30_000;

/**
 * Reads `file` line by line and posts its events to `<url>/v1/batch` with HTTP Basic (the write key as user
 * name). Answers are honoured as the ingest API defines them:
 * - 200: every event accepted;
 * - 400 listing `rejected: [{ index, reason }]`: those events are rejected, the rest were accepted (and are not
 *   resent); a 413 splits the request in two (a single event that is too large is rejected);
 * - 429 and 5xx (with `Retry-After`), network errors and timeouts: retried with back-off, `maxAttempts` in all;
 * - 401, 403 and anything else: the replay stops (`aborted`), as it does when the instance cannot be reached.
 *
 * Events are sent as in the file except `sentAt`, which is dropped: it says when the original client sent the
 * event, and the API would otherwise shift the event's time to the time of the replay (clock-skew correction).
 * Requests run concurrently, so events may arrive out of file order (profiles do not depend on order). Events
 * without a `messageId` get one derived from their content, so a retried request is still de-duplicated.
 */
export async function replayEvents(options: ReplayOptions): Promise<ReplaySummary> {
  const totalBytes = (await fs.promises.stat(options.file)).size;
  return new Replay(options, totalBytes).run();
}

/** The state of one replay. */
class Replay {
  private readonly started = Date.now();
  private readonly progress: Omit<ReplayProgress, 'elapsedMs'>;
  private readonly reasons = new Map<string, RejectionGroup>();
  private aborted?: string;
  private lastFailure?: string;
  private readonly batchSize: number;
  private readonly maxAttempts: number;
  private readonly retryBaseDelayMs: number;
  private readonly endpoint: string;
  private readonly authorization: string;

  constructor(
    private readonly options: ReplayOptions,
    totalBytes: number,
  ) {
    this.progress = { bytesDone: 0, totalBytes, sent: 0, accepted: 0, rejected: 0, failed: 0 };
    this.batchSize = options.batchSize ?? 100;
    this.maxAttempts = options.maxAttempts ?? 5;
    this.retryBaseDelayMs = options.retryBaseDelayMs ?? 250;
    this.endpoint = `${options.url.replace(/\/+$/, '')}/v1/batch`;
    this.authorization = basicAuthorization(options.writeKey);
  }

  async run(): Promise<ReplaySummary> {
    const inFlight = new Set<Promise<void>>();
    const launch = (batch: Line[]) => {
      const request: Promise<void> = this.post(batch).finally(() => inFlight.delete(request));
      inFlight.add(request);
    };

    let batch: Line[] = [];
    let batchBytes = 0;
    for await (const line of this.lines()) {
      if (this.aborted) break;
      if (batch.length > 0 && (batch.length >= this.batchSize || batchBytes + line.bodyBytes > LIMITS.maxBatchBytes - REQUEST_FRAMING_BYTES)) {
        launch(batch);
        [batch, batchBytes] = [[], 0];
        while (inFlight.size >= (this.options.concurrency ?? 4)) await Promise.race(inFlight);
      }
      batch.push(line);
      batchBytes += line.bodyBytes;
    }
    if (batch.length > 0 && !this.aborted) launch(batch);
    await Promise.all(inFlight);
    this.report();
    return this.summary();
  }

  /** The lines of the file that are JSON; blank lines are skipped, and lines that are not JSON rejected. */
  private async *lines(): AsyncGenerator<Line> {
    const input = readline.createInterface({ input: fs.createReadStream(this.options.file), crlfDelay: Infinity });
    let number = 0;
    for await (const text of input) {
      number += 1;
      const fileBytes = Buffer.byteLength(text) + 1;
      if (text.trim() === '') {
        this.progress.bytesDone += fileBytes;
        continue;
      }
      const event = parseLine(text);
      if (event === undefined) {
        this.progress.bytesDone += fileBytes;
        this.reject(number, 'Line is not valid JSON');
        continue;
      }
      const json = JSON.stringify(event);
      yield { number, json, bodyBytes: Buffer.byteLength(json) + 1, fileBytes };
    }
  }

  /** Posts one batch until it is answered for good (or given up); never throws. */
  private async post(batch: Line[]): Promise<void> {
    let reached = false;
    for (let attempt = 1; !this.aborted; attempt++) {
      const answer = await this.request(batch);
      reached ||= !(answer.kind === 'retry' && answer.unreachable);
      if (answer.kind === 'done') return this.settle(batch, { sent: true, failed: false });
      if (answer.kind === 'split') {
        const half = Math.ceil(batch.length / 2);
        await this.post(batch.slice(0, half));
        return this.post(batch.slice(half));
      }
      if (answer.kind === 'abort') {
        this.aborted ??= answer.reason;
      } else if (attempt >= this.maxAttempts) {
        // An instance that stays unreachable ends the replay; one that keeps answering 503 only loses this batch.
        if (answer.unreachable) this.aborted ??= answer.reason;
        this.lastFailure = answer.reason;
        break;
      } else {
        await sleep(Math.max(answer.retryAfterMs ?? 0, backoffMs(attempt, this.retryBaseDelayMs)));
      }
    }
    this.settle(batch, { sent: reached, failed: true });
  }

  /** One request, and what to do about its answer. */
  private async request(batch: Line[]): Promise<Answer> {
    let response: Response;
    try {
      response = await fetch(this.endpoint, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: this.authorization },
        body: `{"batch":[${batch.map((line) => line.json).join(',')}]}`,
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (error) {
      return { kind: 'retry', unreachable: true, reason: `${this.options.url} is unreachable (${networkErrorOf(error)})` };
    }
    const body = await response.json().catch(() => undefined);
    const message = isPlainObject(body) && typeof body.message === 'string' ? body.message : `HTTP ${response.status}`;

    if (response.status === 200) {
      this.progress.accepted += batch.length;
      return { kind: 'done' };
    }
    if (response.status === 400) {
      this.partialBatch(batch, body, message);
      return { kind: 'done' };
    }
    if (response.status === 413) {
      if (batch.length > 1) return { kind: 'split' };
      this.reject(batch[0].number, message);
      return { kind: 'done' };
    }
    if (response.status === 429 || response.status >= 500) {
      const reason = `${this.options.url} answered ${response.status}: ${message}`;
      return { kind: 'retry', unreachable: false, reason, retryAfterMs: retryAfterMs(response.headers.get('retry-after')) };
    }
    return { kind: 'abort', reason: `${this.options.url} answered ${response.status}: ${message}` };
  }

  /** A 400: the events it lists are rejected, the others accepted; without a list, the whole request was refused. */
  private partialBatch(batch: Line[], body: unknown, message: string): void {
    const rejected = isPlainObject(body) && Array.isArray(body.rejected) ? body.rejected.filter(isPlainObject) : [];
    if (rejected.length === 0) {
      for (const line of batch) this.reject(line.number, message);
      return;
    }
    for (const rejection of rejected) {
      const line = typeof rejection.index === 'number' ? batch[rejection.index] : undefined;
      this.reject(line?.number ?? 0, typeof rejection.reason === 'string' ? rejection.reason : message);
    }
    this.progress.accepted += batch.length - rejected.length;
  }

  private reject(lineNumber: number, reason: string): void {
    this.progress.rejected += 1;
    const key = this.reasons.has(reason) || this.reasons.size < MAX_REASONS ? reason : '(other reasons)';
    const group = this.reasons.get(key) ?? { reason: key, count: 0, lines: [] };
    group.count += 1;
    if (group.lines.length < LINES_PER_REASON) group.lines.push(lineNumber);
    this.reasons.set(key, group);
  }

  /** Counts a batch that is answered for good (`sent`: it reached the API), or given up (`failed`). */
  private settle(batch: Line[], outcome: { sent: boolean; failed: boolean }): void {
    if (outcome.sent) this.progress.sent += batch.length;
    if (outcome.failed) this.progress.failed += batch.length;
    this.progress.bytesDone += fileBytesOf(batch);
    this.report();
  }

  private report(): void {
    this.options.onProgress?.({ ...this.progress, elapsedMs: Date.now() - this.started });
  }

  private summary(): ReplaySummary {
    const elapsedMs = Date.now() - this.started;
    return {
      ...this.progress,
      elapsedMs,
      rejections: [...this.reasons.values()].sort((a, b) => b.count - a.count),
      eventsPerSecond: elapsedMs > 0 ? Math.round((this.progress.sent * 1000) / elapsedMs) : 0,
      ...(this.aborted ? { aborted: this.aborted } : {}),
      ...(this.lastFailure ? { lastFailure: this.lastFailure } : {}),
    };
  }
}

type Answer =
  | { kind: 'done' }
  | { kind: 'split' }
  | { kind: 'retry'; unreachable: boolean; reason: string; retryAfterMs?: number }
  | { kind: 'abort'; reason: string };

/** A line as the event to send (`sentAt` dropped), or undefined when it is not JSON. */
function parseLine(text: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isPlainObject(value)) return value; // sent anyway: the API says what is wrong with it
  const { sentAt: _sentAt, ...event } = value;
  return event;
}

/** `Retry-After` in ms: delay-seconds or an HTTP date; undefined when absent or unreadable. */
function retryAfterMs(header: string | null): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** Exponential back-off with jitter, so concurrent requests do not retry in step. */
function backoffMs(attempt: number, baseMs: number): number {
  return baseMs * 2 ** (attempt - 1) * (0.75 + Math.random() / 2);
}

/** `ECONNREFUSED`, `TimeoutError`…: the most specific name fetch gives for a failure. */
function networkErrorOf(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).name ?? String(error);
}

const fileBytesOf = (batch: Line[]) => batch.reduce((sum, line) => sum + line.fileBytes, 0);

