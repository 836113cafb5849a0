import { App } from 'aws-cdk-lib';
import { loadConfig } from './config';
import { PersonalizationStack } from './personalization-stack';

/** The stack as every entry point defines it (`cdk` via bin/app.ts, the local runtime, the tests). */
export function definePlatform(app: App): PersonalizationStack {
  return new PersonalizationStack(app, app.node.tryGetContext('stackName') ?? 'Personalization', {
    config: loadConfig((key) => app.node.tryGetContext(key)),
    description: 'Real-time personalization platform: Segment-compatible ingestion, Kinesis, live DynamoDB profiles',
  });
}
