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

/** What was recorded through `metrics.singleMetric()` (metrics with their own dimensions), as `name dim=value…: value`. */
export function recordSingleMetrics(metrics: Metrics): string[] {
  const recorded: string[] = [];
  metrics.singleMetric = () => {
    const dimensions: Record<string, string> = {};
    const single = {
      addDimension: (name: string, value: string) => void (dimensions[name] = value),
      addDimensions: (more: Record<string, string>) => void Object.assign(dimensions, more),
      addMetric: (name: string, _unit: unknown, value: number) => {
        recorded.push(`${name} ${Object.entries(dimensions).map(([k, v]) => `${k}=${v}`).join(' ')}: ${value}`);
      },
    };
    return single as unknown as Metrics;
  };
  return recorded;
}
