import { createInstrumentation, instrumented } from '../shared/instrumentation';
import { privacyDepsFromEnv } from './deps';
import { runErasures } from './privacy';

const tools = createInstrumentation();
const deps = privacyDepsFromEnv(tools, { athenaTimeoutMs: 10 * 60_000 });

/** EventBridge schedule (every minute) → pending erasures whose lake step is due. */
export const handler = instrumented(tools, async () => {
  const stats = await runErasures(deps);
  if (stats.due > 0) tools.logger.info('Erasures run', { ...stats });
  return stats;
});
