import { LocalScheduler, ratePeriodMs } from '../../local/scheduler';
import type { LocalSchedule } from '../../local/template-model';

/** The local runtime's EventBridge schedules: which rules it runs, at what period, and one run of a rule at a time. */

const schedule = (logicalId: string, expression: string, enabled = true): LocalSchedule => ({ logicalId, functionId: `${logicalId}Fn`, expression, enabled });

it('reads rate expressions, and leaves cron expressions to commands', () => {
  expect(ratePeriodMs('rate(1 minute)')).toBe(60_000);
  expect(ratePeriodMs('rate(5 minutes)')).toBe(300_000);
  expect(ratePeriodMs('rate(1 day)')).toBe(86_400_000);
  expect(ratePeriodMs('cron(0 3 * * ? *)')).toBeUndefined();
  expect(ratePeriodMs('rate(one minute)')).toBeUndefined();
});

it('runs enabled rules of up to an hour (the segment clock, the erasure worker), not the daily training', () => {
  const scheduler = new LocalScheduler(
    [schedule('Clock', 'rate(1 minute)'), schedule('Hourly', 'rate(1 hour)'), schedule('Training', 'rate(1 day)'), schedule('Off', 'rate(1 minute)', false), schedule('Cron', 'cron(0 3 * * ? *)')],
    async () => ({ ok: true, result: null }),
    () => {},
  );
  expect(scheduler.active.map((s) => s.logicalId)).toEqual(['Clock', 'Hourly']);
});

it('invokes with a Scheduled Event, joins a run in progress rather than overlapping it, and logs a failed run', async () => {
  const events: Array<Record<string, unknown>> = [];
  let finish: () => void = () => {};
  const logged: string[] = [];
  const scheduler = new LocalScheduler(
    [schedule('Clock', 'rate(1 minute)')],
    (functionId, event) => {
      events.push({ functionId, ...(event as Record<string, unknown>) });
      return new Promise((resolve) => (finish = () => resolve({ ok: false, error: { errorType: 'Error', errorMessage: 'boom' } })));
    },
    (message) => logged.push(message),
  );
  const first = scheduler.run(scheduler.active[0]);
  const second = scheduler.run(scheduler.active[0]);
  expect(events).toHaveLength(1);
  expect(events[0]).toMatchObject({ functionId: 'ClockFn', 'detail-type': 'Scheduled Event', source: 'aws.events', resources: [expect.stringContaining('rule/Clock')] });
  finish();
  expect(await first).toEqual(await second);
  expect(logged).toEqual(['Scheduled ClockFn failed: Error: boom']);
  await scheduler.stop();
});
