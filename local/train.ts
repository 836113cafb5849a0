import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ENV } from '../lambdas/shared/env';
import { DynamoDbCatalogStore } from '../lambdas/shared/store/catalog-store';
import { DynamoDbModelStore } from '../lambdas/shared/store/model-store';
import { trainFromLake, TrainFromLakeResult } from '../lambdas/train/train-from-lake';
import { DEFAULT_CONFIG } from '../lib/config';
import { openLake } from './lake-query';
import { LocalModel } from './template-model';

/**
 * `npm run train` on this machine: the scheduled training job with DuckDB in Athena's place. The same aggregate
 * query (`interactionsQuery`) runs over the local lake, and the same training and model store write the new
 * version to the local items table.
 */
export async function trainLocal(args: {
  dynamodb: DynamoDBClient;
  itemsTable: string;
  lakeDir: string;
  /** @default DEFAULT_CONFIG.trainingWindowDays */
  windowDays?: number;
  /** @default DEFAULT_CONFIG.modelRetentionDays */
  retentionDays?: number;
  now?: () => number;
  log: (message: string) => void;
}): Promise<TrainFromLakeResult> {
  const lake = await openLake(args.lakeDir);
  try {
    return await trainFromLake(
      async (sql) => lake.stream(sql),
      {
        catalog: new DynamoDbCatalogStore(args.dynamodb, args.itemsTable),
        models: new DynamoDbModelStore(args.dynamodb, args.itemsTable),
        now: args.now ?? Date.now,
        log: args.log,
      },
      { windowDays: args.windowDays ?? DEFAULT_CONFIG.trainingWindowDays, retentionDays: args.retentionDays ?? DEFAULT_CONFIG.modelRetentionDays },
    );
  } finally {
    lake.close();
  }
}

/** The items table's local name, as the functions of the template receive it. */
export function itemsTableOf(model: LocalModel): string {
  const name = model.functions.map((f) => f.environment[ENV.itemsTable]).find((value) => value !== undefined);
  if (name === undefined) throw new Error('No function of the stack reads the items table');
  return name;
}
