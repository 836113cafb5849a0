import { runTraining, TrainJobDeps, TrainJobOptions, TrainJobResult } from './train-job';
import { AggregateRow, interactionsOfRows, interactionsQuery } from './interactions-query';

/** Runs the SQL of `interactionsQuery` on the lake's engine (Athena, or DuckDB locally) and returns its rows. */
export type LakeQueryRunner = (sql: string) => Promise<AsyncIterable<AggregateRow> | Iterable<AggregateRow>>;

export interface TrainFromLakeOptions extends TrainJobOptions {
  /** Days of events to train on, counted back from now. */
  windowDays: number;
}

export interface TrainFromLakeResult extends TrainJobResult {
  /** Aggregate rows the query returned, and those that could not be read (skipped). */
  aggregateRows: number;
  skippedRows: number;
  /** Seconds until the engine had the aggregate ready (the rows are streamed during `seconds.read`). */
  querySeconds: number;
}

/**
 * The scheduled training: the engine aggregates the lake's interactions over the window, the training module
 * turns the aggregates into neighbours and popularity, and the model store writes the new version and switches
 * serving to it (see `runTraining`: a run that fails before the switch leaves the serving model untouched).
 */
export async function trainFromLake(query: LakeQueryRunner, deps: TrainJobDeps, options: TrainFromLakeOptions): Promise<TrainFromLakeResult> {
  const sql = interactionsQuery({
    windowDays: options.windowDays,
    now: deps.now(),
    ...(options.training?.trendingWindowDays !== undefined ? { trendingWindowDays: options.training.trendingWindowDays } : {}),
  });
  const t0 = performance.now();
  const rows = await query(sql);
  const querySeconds = (performance.now() - t0) / 1000;
  deps.log(`Aggregate query over ${options.windowDays} days ready in ${querySeconds.toFixed(1)} s`);

  const counts = { rows: 0, skipped: 0 };
  const result = await runTraining(interactionsOfRows(rows, counts), deps, options);
  if (counts.skipped > 0) deps.log(`${counts.skipped} aggregate rows could not be read and were skipped`);
  return { ...result, aggregateRows: counts.rows, skippedRows: counts.skipped, querySeconds };
}
