import { randomUUID } from 'node:crypto';
import type { InvokeOutcome } from './lambda-host';
import { LOCAL_ACCOUNT, LOCAL_REGION, LocalSchedule } from './template-model';

/** Schedules slower than this are not run by the local runtime (the daily training: `npm run train` runs it). */
export const LOCAL_SCHEDULE_MAX_MS = 3_600_000;

const RATE = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/;
const UNIT_MS: Record<string, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };

/** The period of a `rate(…)` expression in ms; undefined for a `cron(…)` (not run locally). */
export function ratePeriodMs(expression: string): number | undefined {
  const match = RATE.exec(expression.trim());
  return match ? Number(match[1]) * UNIT_MS[match[2].replace(/s$/, '')] : undefined;
}

/**
 * EventBridge schedules of the template, run locally: each enabled `rate(…)` rule of up to an hour invokes its
 * function with a `Scheduled Event` at its rate (or every `periodMs` when given, so tests need not wait a
 * minute), never two runs of one rule at once. A failed run is logged; the next one comes at the next tick, as
 * the deployed rules are configured (no retries of a stale run).
 */
export class LocalScheduler {
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly running = new Map<string, Promise<InvokeOutcome>>();

  constructor(
    private readonly schedules: readonly LocalSchedule[],
    private readonly invoke: (functionId: string, event: unknown) => Promise<InvokeOutcome>,
    private readonly log: (message: string) => void,
  ) {}

  /** The schedules this runtime runs. */
  get active(): LocalSchedule[] {
    return this.schedules.filter((s) => s.enabled && (ratePeriodMs(s.expression) ?? Infinity) <= LOCAL_SCHEDULE_MAX_MS);
  }

  start(periodMs?: number): void {
    for (const schedule of this.active) {
      const timer = setInterval(() => void this.run(schedule), periodMs ?? (ratePeriodMs(schedule.expression) as number));
      timer.unref();
      this.timers.push(timer);
    }
  }

  /** Runs a schedule's function now (or joins the run in progress), as its rule would. */
  run(schedule: LocalSchedule): Promise<InvokeOutcome> {
    const inProgress = this.running.get(schedule.logicalId);
    if (inProgress) return inProgress;
    const run = this.invoke(schedule.functionId, scheduledEvent(schedule)).then((outcome) => {
      if (!outcome.ok) this.log(`Scheduled ${schedule.functionId} failed: ${outcome.error.errorType}: ${outcome.error.errorMessage}`);
      return outcome;
    });
    this.running.set(schedule.logicalId, run);
    void run.finally(() => this.running.delete(schedule.logicalId));
    return run;
  }

  /** Stops the timers and waits for the runs in progress. */
  async stop(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    this.timers.length = 0;
    await Promise.all(this.running.values());
  }
}

/** The event EventBridge sends a scheduled rule's target. */
function scheduledEvent(schedule: LocalSchedule): Record<string, unknown> {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: LOCAL_ACCOUNT,
    time: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: LOCAL_REGION,
    resources: [`arn:aws:events:${LOCAL_REGION}:${LOCAL_ACCOUNT}:rule/${schedule.logicalId}`],
    detail: {},
  };
}
