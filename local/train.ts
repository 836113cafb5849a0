import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { interactionsOf } from '../lambdas/shared/domain/interactions';
import { Interaction } from '../lambdas/shared/domain/model';
import { ENV } from '../lambdas/shared/env';
import { runTraining, TrainJobResult } from '../lambdas/train/train-job';
import { DynamoDbCatalogStore } from '../lambdas/shared/store/catalog-store';
import { DynamoDbModelStore } from '../lambdas/shared/store/model-store';
import { DEFAULT_CONFIG } from '../lib/config';
import { readLakeEvents } from './lake-writer';
import { LocalModel } from './template-model';

/**
 * `npm run train` on this machine: the training job over the local lake (every event the local runtime has
 * seen), writing the new model version to the local items table. In AWS the same job reads the lake through
 * Athena (batch-layer issue); the training and the model store are the same code.
 */
export async function trainLocal(args: {
  dynamodb: DynamoDBClient;
  itemsTable: string;
  lakeDir: string;
  retentionDays?: number;
  log: (message: string) => void;
}): Promise<TrainJobResult> {
  const events = readLakeEvents(args.lakeDir);
  const result = await runTraining(
    interactionsFrom(events),
    {
      catalog: new DynamoDbCatalogStore(args.dynamodb, args.itemsTable),
      models: new DynamoDbModelStore(args.dynamodb, args.itemsTable),
      now: Date.now,
      log: args.log,
    },
    { retentionDays: args.retentionDays ?? DEFAULT_CONFIG.modelRetentionDays },
  );
  const { duplicates, skippedLines, unreadableObjects } = events.stats;
  if (duplicates + skippedLines + unreadableObjects > 0) {
    args.log(`Lake: ${duplicates} duplicate events ignored, ${skippedLines} unreadable lines and ${unreadableObjects} damaged objects skipped`);
  }
  return result;
}

async function* interactionsFrom(events: AsyncIterable<Parameters<typeof interactionsOf>[0]>): AsyncGenerator<Interaction> {
  for await (const event of events) yield* interactionsOf(event);
}

/** The items table's local name, as the functions of the template receive it. */
export function itemsTableOf(model: LocalModel): string {
  const name = model.functions.map((f) => f.environment[ENV.itemsTable]).find((value) => value !== undefined);
  if (name === undefined) throw new Error('No function of the stack reads the items table');
  return name;
}
