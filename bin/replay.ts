#!/usr/bin/env node
/**
 * `npm run replay`: sends a JSON-lines file of Segment messages to a running instance (`npm start`, or a deployed
 * API) through `/v1/batch`.
 *
 *   npm run replay -- --file events.jsonl [--url http://127.0.0.1:3000] [--write-key KEY] [--batch-size 100] [--concurrency 4]
 *
 * The write key comes from `--write-key`, else PERSONALIZATION_WRITE_KEY, else the development default. Exits
 * with 1 when some events could not be delivered (the instance was unreachable, refused the key, or kept
 * answering 503), 2 on a usage error; events the API rejects as invalid are reported, not an error.
 */
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { localKeys } from '../local/clients';
import { replayEvents, ReplayProgress, ReplaySummary } from '../local/replay';

const USAGE = 'Usage: npm run replay -- --file <events.jsonl> [--url http://127.0.0.1:3000] [--write-key KEY] [--batch-size 100] [--concurrency 4]';
/** How often progress is drawn on a terminal, and written as a line otherwise. */
const BAR_REFRESH_MS = 100;
const LINE_EVERY_MS = 5_000;
/** Reasons listed in the summary. */
const REASONS_SHOWN = 5;

const OPTIONS = {
  file: { type: 'string' },
  url: { type: 'string', default: 'http://127.0.0.1:3000' },
  'write-key': { type: 'string' },
  'batch-size': { type: 'string', default: '100' },
  concurrency: { type: 'string', default: '4' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

const commandLine = () => parseArgs({ options: OPTIONS }).values;

async function main(): Promise<number> {
  let values: ReturnType<typeof commandLine>;
  try {
    values = commandLine();
  } catch (error) {
    return usageError((error as Error).message);
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!values.file) return usageError('--file is required');
  const batchSize = Number(values['batch-size']);
  const concurrency = Number(values.concurrency);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 500) return usageError('--batch-size must be an integer from 1 to 500');
  if (!Number.isInteger(concurrency) || concurrency < 1) return usageError('--concurrency must be a positive integer');

  const progress = process.stderr.isTTY ? progressBar() : progressLines();
  const summary = await replayEvents({
    file: values.file,
    url: values.url,
    writeKey: values['write-key'] || localKeys().write,
    batchSize,
    concurrency,
    onProgress: progress.update,
  });
  progress.end(summary);
  printSummary(path.basename(values.file), values.url, summary);
  return summary.aborted !== undefined || summary.failed > 0 ? 1 : 0;
}

function usageError(message: string): number {
  console.error(`${message}\n${USAGE}`);
  return 2;
}

interface ProgressView {
  update: (progress: ReplayProgress) => void;
  end: (summary: ReplayProgress) => void;
}

/** A bar redrawn in place on stderr (a terminal). */
function progressBar(): ProgressView {
  let drawnAt = 0;
  const draw = (p: ReplayProgress) => {
    const status = ` ${percent(p)}  ${count(p.sent)} sent  ${count(p.accepted)} accepted  ${count(p.rejected)} rejected  ${count(rate(p))}/s`;
    const width = Math.max(10, Math.min(40, (process.stderr.columns ?? 80) - status.length - 3));
    const filled = Math.round(width * fraction(p));
    process.stderr.write(`\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]${status}\x1b[K`);
  };
  return {
    update: (p) => {
      if (Date.now() - drawnAt < BAR_REFRESH_MS) return;
      drawnAt = Date.now();
      draw(p);
    },
    end: (p) => {
      draw(p);
      process.stderr.write('\n');
    },
  };
}

/** A plain line every few seconds (stderr is a file or a pipe). */
function progressLines(): ProgressView {
  let writtenAt = Date.now();
  return {
    update: (p) => {
      if (Date.now() - writtenAt < LINE_EVERY_MS) return;
      writtenAt = Date.now();
      console.error(`replay: ${percent(p)} of the file, ${p.sent} sent, ${p.accepted} accepted, ${p.rejected} rejected, ${rate(p)} events/s`);
    },
    end: () => undefined,
  };
}

function printSummary(file: string, url: string, s: ReplaySummary): void {
  console.log(`Replayed ${file} to ${url} in ${(s.elapsedMs / 1000).toFixed(1)} s
  sent       ${count(s.sent)}
  accepted   ${count(s.accepted)}
  rejected   ${count(s.rejected)}
  failed     ${count(s.failed)}
  rate       ${count(s.eventsPerSecond)} events/s`);
  if (s.rejections.length > 0) {
    console.log('Rejected, by reason:');
    for (const group of s.rejections.slice(0, REASONS_SHOWN)) {
      const more = group.count > group.lines.length ? ', …' : '';
      console.log(`  ${count(group.count)} × ${group.reason} (line ${group.lines.join(', ')}${more})`);
    }
    if (s.rejections.length > REASONS_SHOWN) console.log(`  … and ${s.rejections.length - REASONS_SHOWN} other reasons`);
  }
  if (s.aborted) console.error(`Stopped before the end of the file: ${s.aborted}`);
  else if (s.lastFailure) console.error(`${count(s.failed)} events were not delivered; last answer: ${s.lastFailure}`);
}

const fraction = (p: ReplayProgress) => (p.totalBytes > 0 ? Math.min(1, p.bytesDone / p.totalBytes) : 1);
const percent = (p: ReplayProgress) => `${Math.floor(fraction(p) * 100)}%`.padStart(4);
const rate = (p: ReplayProgress) => (p.elapsedMs > 0 ? Math.round((p.sent * 1000) / p.elapsedMs) : 0);
const count = (n: number) => n.toLocaleString('en-US');

main().then(
  (code) => (process.exitCode = code),
  (error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  },
);
