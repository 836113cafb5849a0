import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { athenaClient, dynamoDbClient, s3Client } from '../shared/clients';
import { ENV, numberEnv, requireEnv } from '../shared/env';
import { createInstrumentation, instrumented } from '../shared/instrumentation';
import { runAthenaQuery } from '../shared/store/athena-query';
import { DynamoDbCatalogStore } from '../shared/store/catalog-store';
import { DynamoDbModelStore } from '../shared/store/model-store';
import { trainFromLake } from './train-from-lake';

/**
 * The scheduled training job (EventBridge → this function): Athena aggregates the lake over the window, the
 * model is trained in memory and written to the items table as a new version, and serving switches to it. Any
 * failure throws, so the run counts as a Lambda error (the alarm) and the serving model stays as it was.
 */
const tools = createInstrumentation();
const dynamodb = tools.tracer.captureAWSv3Client(dynamoDbClient());
const itemsTable = requireEnv(ENV.itemsTable);
const athena = tools.tracer.captureAWSv3Client(athenaClient());
const s3 = tools.tracer.captureAWSv3Client(s3Client());
const workGroup = requireEnv(ENV.athenaWorkGroup);
const database = requireEnv(ENV.lakeDatabase);
const windowDays = numberEnv(ENV.trainingWindowDays, 90);
const retentionDays = numberEnv(ENV.modelRetentionDays, 30);

export const handler = instrumented(tools, async () => {
  const { logger, metrics } = tools;
  const log = (message: string) => logger.info(message);
  let scannedBytes = 0;
  const result = await trainFromLake(
    async (sql) => {
      // The query may run for minutes; leave the rest of the 15-minute budget to training and writing.
      const { stats, rows } = await runAthenaQuery({ athena, s3 }, { sql, workGroup, database }, { timeoutMs: 8 * 60_000, log });
      scannedBytes = stats.dataScannedBytes;
      log(`Athena query ${stats.queryExecutionId} scanned ${stats.dataScannedBytes} bytes in ${stats.engineMs} ms`);
      return rows;
    },
    {
      catalog: new DynamoDbCatalogStore(dynamodb, itemsTable),
      models: new DynamoDbModelStore(dynamodb, itemsTable),
      now: Date.now,
      log,
    },
    { windowDays, retentionDays },
  );
  metrics.addMetric('TrainingInteractions', MetricUnit.Count, result.stats.interactions);
  metrics.addMetric('TrainingModelItems', MetricUnit.Count, result.stats.modelItems);
  metrics.addMetric('TrainingScannedBytes', MetricUnit.Bytes, scannedBytes);
  metrics.addMetric('TrainingSeconds', MetricUnit.Seconds, result.querySeconds + result.seconds.read + result.seconds.train + result.seconds.write);
  logger.info('Training run finished', { ...result });
  return { version: result.version, previousVersion: result.previousVersion, stats: result.stats };
});
