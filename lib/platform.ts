import * as fs from 'node:fs';
import * as path from 'node:path';
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

/** The context (feature flags) of cdk.json, which the CLI passes to the app; in-process synths pass it themselves. */
export function cdkJsonContext(): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'cdk.json'), 'utf8')).context ?? {};
}
