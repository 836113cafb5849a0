import { ChildProcess, fork } from 'node:child_process';
import * as path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';

/** The DynamoDB emulator of `dynalite-process.cjs`, running in a process of its own, and a client for it. */
export interface Emulator {
  endpoint: string;
  dynamodb: DynamoDBClient;
  /** Item writes the emulator's proxy has counted so far. */
  writeCount(): Promise<number>;
  /** Destroys the client and stops the emulator's process. */
  close(): void;
}

/** Starts the emulator (in its own process, so that a benchmark's CPU figures are the code under test's). */
export async function startEmulator(): Promise<Emulator> {
  const child = fork(path.join(__dirname, 'dynalite-process.cjs'));
  const { url: endpoint } = (await nextMessage(child)) as { url: string };
  const dynamodb = new DynamoDBClient({ region: 'us-east-1', endpoint, credentials: { accessKeyId: 'b', secretAccessKey: 'b' } });
  return {
    endpoint,
    dynamodb,
    writeCount: async () => {
      child.send({ count: true });
      return ((await nextMessage(child)) as { writes: number }).writes;
    },
    close: () => {
      dynamodb.destroy();
      child.kill();
    },
  };
}

function nextMessage(child: ChildProcess): Promise<unknown> {
  return new Promise((resolve) => child.once('message', resolve));
}

/** The `p`th percentile (0 to 100) of `values`: the value at that rank in sorted order. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
