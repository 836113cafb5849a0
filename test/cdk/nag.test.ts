import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { cdkJsonContext, definePlatform } from '../../lib/platform';
import { PersonalizationStack } from '../../lib/personalization-stack';

interface Report {
  pluginReports: Array<{ pluginName: string; violations: Array<{ ruleName: string; severity: string; violatingConstructs: Array<{ constructPath: string }> }> }>;
}

/** Synthesizes with cdk-nag's AwsSolutions and Serverless packs, as `cdk synth` does; returns whether synth failed and the report. */
function synthWithNag(change: (stack: PersonalizationStack) => void = () => {}, context: Record<string, unknown> = {}): { failed: boolean; report: Report } {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'nag-'));
  const app = new App({ outdir, context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [], ...context } });
  change(definePlatform(app));
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
  let failed = false;
  try {
    app.synth();
  } catch (error) {
    if (!/validation ?failed/i.test(`${(error as Error).name} ${(error as Error).message}`)) throw error;
    failed = true;
  }
  return { failed, report: JSON.parse(fs.readFileSync(path.join(outdir, 'validation-report.json'), 'utf8')) };
}

/** Every finding, with where. */
const findingsOf = (report: Report) => report.pluginReports.flatMap((r) => r.violations.map((v) => `${v.ruleName} at ${v.violatingConstructs.map((c) => c.constructPath).join(', ')}`));

describe('cdk-nag AwsSolutions and Serverless', () => {
  it('finds nothing unacknowledged in the stack', () => {
    const { failed, report } = synthWithNag();
    expect(findingsOf(report)).toEqual([]);
    expect(failed).toBe(false);
  });

  it('finds nothing unacknowledged with AWS-managed encryption (no customer managed key)', () => {
    const { failed, report } = synthWithNag(() => {}, { encryption: 'aws-managed' });
    expect(findingsOf(report)).toEqual([]);
    expect(failed).toBe(false);
  });

  it('finds nothing unacknowledged with AWS WAF on the API', () => {
    const { failed, report } = synthWithNag(() => {}, { wafEnabled: 'true' });
    expect(findingsOf(report)).toEqual([]);
    expect(failed).toBe(false);
  });

  it('finds nothing unacknowledged with Amazon Personalize turned on', () => {
    const { failed, report } = synthWithNag(() => {}, {
      personalizeTrackingId: 'tracking-id-1',
      personalizeCampaignArn: 'arn:aws:personalize:eu-west-1:123456789012:campaign/shop',
      recommendations: { experiment: { name: 'p', variants: [{ name: 'built-in', weight: 1 }, { name: 'personalize', weight: 1, strategy: 'personalize' }] } },
    });
    expect(findingsOf(report)).toEqual([]);
    expect(failed).toBe(false);
  });

  it('finds nothing unacknowledged when data is deleted with the stack and training is off', () => {
    const { failed, report } = synthWithNag(() => {}, { destroyData: 'true', trainingEnabled: 'false' });
    expect(findingsOf(report)).toEqual([]);
    expect(failed).toBe(false);
  });

  it('acknowledges wildcard resources only as X-Ray\'s "*" or objects under a named prefix of a bucket', () => {
    const app = new App({ context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [] } });
    const stack = definePlatform(app);
    const iam5 = stack.node
      .findAll()
      .flatMap((construct) => construct.node.metadata.filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY))
      .flatMap((m) => Object.keys(m.data as Record<string, string>).map((id) => id.replace(/^annotation::/i, '')))
      .filter((id) => id.startsWith('AwsSolutions-IAM5'));
    for (const id of iam5) expect(id).toMatch(/^AwsSolutions-IAM5\[Resource::(\*|<\w+\.Arn>\/[a-z-]+\/([a-z-]+\/)?\*)\]$/);
    expect(iam5).toEqual(
      expect.arrayContaining([expect.stringMatching(/\/events\/\*\]$/), expect.stringMatching(/\/bad-events\/\*\]$/), expect.stringMatching(/\/results\/\*\]$/)]),
    );
  });

  it('would catch a violation of either pack (the checks are live)', () => {
    const { failed, report } = synthWithNag((stack) => new Queue(stack, 'Plaintext', { encryption: QueueEncryption.UNENCRYPTED }));
    expect(failed).toBe(true);
    const rules = report.pluginReports.flatMap((r) => r.violations.map((v) => v.ruleName));
    expect(rules).toContain('AwsSolutions-SQS2');
    expect(rules).toContain('Serverless-SQSRedrivePolicy');
  });

  it('acknowledges a missing Lambda dead-letter queue only where a function is not invoked asynchronously', () => {
    const app = new App({ context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [] } });
    const stack = definePlatform(app);
    const acknowledged = (rule: string) =>
      stack.node
        .findAll()
        .filter((c) => c.node.metadata.some((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY && Object.keys(m.data).some((id) => id.endsWith(`::${rule}`) || id === rule)))
        .map((c) => c.node.path.slice(stack.node.path.length + 1));
    // The scheduled functions have a dead-letter queue (failed-invocations.test.ts): no acknowledgement.
    expect(acknowledged('Serverless-LambdaDLQ').sort()).toEqual(
      [
        'Ingestion/Ingest',
        'ProfileReader/Profiles',
        'Recommendations/Catalog',
        'Recommendations/Recommend',
        'Segments/Api',
        'Privacy/Api',
        'PublicApi/WriteAuthorizer/Function',
        'PublicApi/ReadAuthorizer/Function',
        'Lake/ConsentFilter',
        'Processor/Process/Function',
      ].sort(),
    );
    expect(acknowledged('Serverless-LambdaAsyncFailureDestination')).toEqual(['Training/Train/Function/EventInvokeConfig']);
    expect(acknowledged('Serverless-SQSRedrivePolicy').sort()).toEqual(['FailedInvocations', 'Processor/Failures'].sort());
  });

  it('gives every acknowledgement a reason', () => {
    const app = new App({ context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [] } });
    const stack = definePlatform(app);
    // Recorded as { "Annotation::<rule id>": "<reason>" } on each acknowledging construct.
    const acknowledgements = stack.node
      .findAll()
      .flatMap((construct) => construct.node.metadata.filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY))
      .flatMap((m) => Object.entries(m.data as Record<string, string>).map(([id, reason]) => ({ id: id.replace(/^annotation::/i, ''), reason })));
    expect(acknowledgements.map((a) => a.id)).toEqual(
      expect.arrayContaining(['AwsSolutions-APIG4', 'AwsSolutions-IAM5[Resource::*]', 'AwsSolutions-SMG4', 'Serverless-LambdaLatestVersion', 'Serverless-LambdaDLQ']),
    );
    for (const ack of acknowledgements) expect(ack.reason.length).toBeGreaterThan(30);
  });
});
