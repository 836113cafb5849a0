import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';
import type { Context } from 'aws-lambda';

/**
 * The one instrumentation style of every function: Powertools logger, metrics and tracer, configured from
 * the environment the house function construct sets (POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE).
 */
export interface Instrumentation {
  logger: Logger;
  metrics: Metrics;
  tracer: Tracer;
}

export function createInstrumentation(): Instrumentation {
  return { logger: new Logger(), metrics: new Metrics(), tracer: new Tracer() };
}

/**
 * Wraps a handler: request context in every log line, a traced handler subsegment with the cold-start
 * annotation, errors logged and attached to the trace, and recorded metrics flushed after every invocation.
 */
export function instrumented<E, R>(tools: Instrumentation, handler: (event: E, context: Context) => Promise<R>): (event: E, context: Context) => Promise<R> {
  const { logger, metrics, tracer } = tools;
  return async (event, context) => {
    logger.addContext(context);
    metrics.captureColdStartMetric();
    const parent = tracer.getSegment();
    const subsegment = parent?.addNewSubsegment(`## ${process.env._HANDLER ?? 'handler'}`);
    if (subsegment) tracer.setSegment(subsegment);
    tracer.annotateColdStart();
    tracer.addServiceNameAnnotation();
    try {
      return await handler(event, context);
    } catch (error) {
      tracer.addErrorAsMetadata(error as Error);
      logger.error('Invocation failed', error as Error);
      throw error;
    } finally {
      subsegment?.close();
      if (parent) tracer.setSegment(parent);
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    }
  };
}
