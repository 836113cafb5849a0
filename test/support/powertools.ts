import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';

/** A real Powertools logger that prints nothing. */
export const silentLogger = () => new Logger({ logLevel: 'SILENT' });

/** A real Powertools metrics instance that never emits (POWERTOOLS_METRICS_DISABLED is read at construction). */
export function disabledMetrics(): Metrics {
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  return new Metrics({ namespace: 'test', serviceName: 'test' });
}

/** Metric values recorded through `addMetric`, by name (summed), for assertions. */
export function recordMetrics(metrics: Metrics): Map<string, number> {
  const recorded = new Map<string, number>();
  const original = metrics.addMetric.bind(metrics);
  metrics.addMetric = (name, unit, value, resolution) => {
    recorded.set(name, (recorded.get(name) ?? 0) + value);
    return original(name, unit, value, resolution);
  };
  return recorded;
}
