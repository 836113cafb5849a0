import { Logger } from '@aws-lambda-powertools/logger';
import type { LogLevel } from '@aws-lambda-powertools/logger/types';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';
import type { Context } from 'aws-lambda';
import { PrivateLogFormatter } from './log-privacy';

/**
 * The one instrumentation style of every function: Powertools logger, metrics and tracer, configured from
 * the environment the house function construct sets (POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE,
 * LOG_HASH_SALT). The logger writes no personal data (see `log-privacy.ts`).
 */
export interface Instrumentation {
  logger: Logger;
  metrics: Metrics;
  tracer: Tracer;
}

export function createInstrumentation(): Instrumentation {
  return { logger: createLogger(), metrics: new Metrics(), tracer: new Tracer() };
}

/** A Powertools logger whose lines carry pseudonyms instead of personal data (ids, traits, payloads…). */
export function createLogger(options: { serviceName?: string; logLevel?: LogLevel } = {}): Logger {
  return new Logger({ ...options, logFormatter: new PrivateLogFormatter() });
}

/** Scrubs what a handler throws: the Lambda runtime logs it itself, past the logger's formatter. */
const thrown = new PrivateLogFormatter();

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
      thrown.scrubThrown(error);
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
