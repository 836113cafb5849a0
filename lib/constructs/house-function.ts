import * as path from 'node:path';
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { Metric, MetricOptions } from 'aws-cdk-lib/aws-cloudwatch';
import { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Grant, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { IStream } from 'aws-cdk-lib/aws-kinesis';
import { IEventBus } from 'aws-cdk-lib/aws-events';
import { IDeliveryStream } from 'aws-cdk-lib/aws-kinesisfirehose';
import { Architecture, CfnFunction, LoggingFormat, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { grantSendMessage } from './failure-queue';
import { grantKey, KEY_ACTIONS } from './platform-key';

/** Root of the function sources; handler entries are given relative to it. */
export const LAMBDAS_DIR = path.join(__dirname, '..', '..', 'lambdas');
/** Powertools metrics namespace of every function. */
export const METRICS_NAMESPACE = 'Personalization';

export interface HouseFunctionProps {
  /** Handler file relative to `lambdas/`, exporting `handler`, e.g. `ingest/handler.ts`. */
  entry: string;
  /** Powertools service name: the `service` of every log line, metric and trace. */
  serviceName: string;
  description: string;
  /** @default 512 */
  memorySize?: number;
  /** @default Duration.seconds(10) */
  timeout?: Duration;
  /** Days the function's log group keeps logs. */
  logRetentionDays: number;
  environment?: Record<string, string>;
  /** Most concurrent executions; also reserved from the account's pool. @default - unreserved */
  reservedConcurrentExecutions?: number;
}

/**
 * The one way this project builds a Lambda function: Node.js 22 on ARM64, bundled by the local esbuild
 * (never Docker), source maps on, AWS SDK v3 from the runtime, X-Ray tracing, JSON logs in its own log group
 * with retention, a role that can write only to that log group, and the Powertools environment. Resources are bound with `bind*`, which grants exactly the
 * listed actions and sets the environment variable the handler reads, in one call; a resource encrypted with a
 * customer managed key brings the key actions those calls need, by name (`KEY_ACTIONS`).
 *
 * How a function is invoked decides where its failures go: an asynchronously invoked one (a schedule's target) sends
 * them to a queue (`sendAsyncFailuresTo`); a synchronously invoked one returns them to its invoker
 * (`invokedSynchronouslyBy`); a stream consumer's event source mapping has its own failure queue (`consumeStream`).
 */
export class HouseFunction extends Construct {
  readonly fn: NodejsFunction;
  /** The Powertools service name: the `service` dimension of the function's custom metrics. */
  readonly serviceName: string;

  constructor(scope: Construct, id: string, props: HouseFunctionProps) {
    super(scope, id);
    this.serviceName = props.serviceName;
    const logGroup = new LogGroup(this, 'Logs', { retention: props.logRetentionDays, removalPolicy: RemovalPolicy.DESTROY });
    // Instead of AWSLambdaBasicExecutionRole, which may write to every log group in the account.
    const role = new Role(this, 'Role', { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
    logGroup.grantWrite(role);
    this.fn = new NodejsFunction(this, 'Function', {
      role,
      entry: path.join(LAMBDAS_DIR, props.entry),
      handler: 'handler',
      description: props.description,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(10),
      tracing: Tracing.ACTIVE,
      logGroup,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      loggingFormat: LoggingFormat.JSON,
      bundling: {
        target: 'node22',
        format: OutputFormat.CJS,
        minify: true,
        sourceMap: true,
        externalModules: ['@aws-sdk/*'],
        forceDockerBundling: false,
      },
      environment: {
        POWERTOOLS_SERVICE_NAME: props.serviceName,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        NODE_OPTIONS: '--enable-source-maps',
        ...props.environment,
      },
    });

    Validations.of(this).acknowledge(
      { id: 'AwsSolutions-IAM5[Resource::*]', reason: 'X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permissions; every other statement names its resource' },
      { id: 'AwsSolutions-L1', reason: 'Node.js 22 is the runtime this project builds and tests for (esbuild target node22); a runtime upgrade is a deliberate, tested change' },
      {
        id: 'Serverless-LambdaLatestVersion',
        reason: 'Node.js 22 is the runtime this project builds and tests for (esbuild target node22); a runtime upgrade is a deliberate, tested change',
      },
    );
  }

  /** A custom metric the function emits through Powertools: namespace `Personalization`, dimension `service`; per-minute sums unless `options` say otherwise. */
  customMetric(metricName: string, options: MetricOptions = {}): Metric {
    return new Metric({ namespace: METRICS_NAMESPACE, metricName, dimensionsMap: { service: this.serviceName }, statistic: 'Sum', period: Duration.minutes(1), label: metricName, ...options });
  }

  /**
   * Grants `actions` on `table` and passes its name in `envVar`: on the table only, not its indexes or stream
   * (`Table.grant` would add every index once the table has one; see `bindTableIndex`). With a customer managed
   * key, `kms:Decrypt` on it: DynamoDB decrypts the table key as the caller for reads and writes alike.
   */
  bindTable(table: ITable, envVar: string, ...actions: string[]): this {
    Grant.addToPrincipal({ grantee: this.fn, actions, resourceArns: [table.tableArn] });
    grantKey(this.fn, table.encryptionKey, KEY_ACTIONS.decrypt);
    this.fn.addEnvironment(envVar, table.tableName);
    return this;
  }

  /** Grants `actions` (`dynamodb:Query`) on one index of `table` (and `kms:Decrypt` on its key, as `bindTable`); bind the table itself with `bindTable`. */
  bindTableIndex(table: ITable, indexName: string, ...actions: string[]): this {
    Grant.addToPrincipal({ grantee: this.fn, actions, resourceArns: [`${table.tableArn}/index/${indexName}`] });
    grantKey(this.fn, table.encryptionKey, KEY_ACTIONS.decrypt);
    return this;
  }

  /**
   * Grants `actions` on `stream` and passes its name in `envVar`. With a customer managed key: `kms:GenerateDataKey`
   * to put records, `kms:Decrypt` to get them. (Consumers subscribe with `consumeStream` instead.)
   */
  bindStream(stream: IStream, envVar: string, ...actions: string[]): this {
    Grant.addToPrincipal({ grantee: this.fn, actions, resourceArns: [stream.streamArn] });
    if (actions.some((a) => a === 'kinesis:PutRecord' || a === 'kinesis:PutRecords')) grantKey(this.fn, stream.encryptionKey, KEY_ACTIONS.putRecords);
    if (actions.includes('kinesis:GetRecords')) grantKey(this.fn, stream.encryptionKey, KEY_ACTIONS.decrypt);
    this.fn.addEnvironment(envVar, stream.streamName);
    return this;
  }

  /** Grants `actions` on `deliveryStream` (a Firehose delivery stream) and passes its name in `envVar`. */
  bindDeliveryStream(deliveryStream: IDeliveryStream, envVar: string, ...actions: string[]): this {
    deliveryStream.grant(this.fn, ...actions);
    this.fn.addEnvironment(envVar, deliveryStream.deliveryStreamName);
    return this;
  }

  /** Grants `events:PutEvents` on `bus` and passes its name in `envVar`. */
  bindEventBus(bus: IEventBus, envVar: string): this {
    bus.grantPutEventsTo(this.fn);
    this.fn.addEnvironment(envVar, bus.eventBusName);
    return this;
  }

  /**
   * Grants read access to `secret` and passes its ARN in `envVar` (`GetSecretValue` and `DescribeSecret`; with a key
   * of its own, `kms:Decrypt` through Secrets Manager only: `Secret.grantRead` names its actions).
   */
  bindSecret(secret: ISecret, envVar: string): this {
    secret.grantRead(this.fn);
    this.fn.addEnvironment(envVar, secret.secretArn);
    return this;
  }

  /**
   * Sends the events of failed asynchronous invocations (a schedule's, once Lambda's own retries are spent or the
   * event is too old) to `queue`, the function's dead-letter queue (`DeadLetterConfig`), with sending granted by
   * name (`grantSendMessage`): the L2 `deadLetterQueue` prop would grant `kms:GenerateDataKey*` and `kms:ReEncrypt*`
   * on an encrypted queue. One mechanism per function: an `EventInvokeConfig` on-failure destination as well would
   * put each failure in the queue twice.
   */
  sendAsyncFailuresTo(queue: IQueue): this {
    grantSendMessage(this.fn, queue);
    (this.fn.node.defaultChild as CfnFunction).deadLetterConfig = { targetArn: queue.queueArn };
    return this;
  }

  /**
   * Records that `invoker` calls this function synchronously, so that its errors return to the invoker, which
   * `onFailure` says what it does with them: acknowledges cdk-nag's Serverless-LambdaDLQ (a Lambda dead-letter queue
   * only receives failed asynchronous invocations).
   */
  invokedSynchronouslyBy(invoker: string, onFailure: string): this {
    Validations.of(this).acknowledge({
      id: 'Serverless-LambdaDLQ',
      reason: `Invoked synchronously by ${invoker}: ${onFailure}. A Lambda dead-letter queue only receives failed asynchronous invocations`,
    });
    return this;
  }
}
