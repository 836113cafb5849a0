import { Duration, Validations } from 'aws-cdk-lib';
import { RestApi } from 'aws-cdk-lib/aws-apigateway';
import {
  Alarm,
  AlarmStatusWidget,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  IMetric,
  MathExpression,
  Metric,
  TextWidget,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { IKey } from 'aws-cdk-lib/aws-kms';
import { IFunction } from 'aws-cdk-lib/aws-lambda';
import { ITopic, Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { HouseFunction, METRICS_NAMESPACE } from './house-function';
import { allowServiceToEncrypt } from './platform-key';

export interface ObservabilityProps {
  api: RestApi;
  stageName: string;
  /** Every function of the platform: errors and throttles of each are alarmed. */
  functions: HouseFunction[];
  /** Functions reading the event stream: their iterator age is how far behind real time they are. */
  streamConsumers: IFunction[];
  /** On-failure destinations (stream consumers, scheduled invocations): any message in one is an alarm. */
  failureQueues: IQueue[];
  /** Every table: throttled reads or writes are an alarm. */
  tables: ITable[];
  /** Alarms other constructs own (Firehose delivery, scheduled jobs failing): they page through the same topic. */
  alarms: Alarm[];
  /** The functions whose custom metrics the dashboard shows. */
  services: { ingest: HouseFunction; writeAuthorizer: HouseFunction; processor: HouseFunction; recommend: HouseFunction; lakeFilter: HouseFunction; segmentClock: HouseFunction };
  /** Encrypts the alarm topic; its key policy lets CloudWatch use it. @default - no customer-managed key: the topic is unencrypted */
  key?: IKey;
  /** An address to subscribe to the alarm topic. @default - none (subscribe after deploying) */
  alarmEmail?: string;
  /** The model serving recommendations is older than this: training has stopped. */
  modelMaxAgeHours: number;
}

/**
 * What an on-call engineer watches: one SNS topic every alarm notifies (on alarm and on recovery), the alarms the
 * platform needs (README, "Operations", says what to do for each), and one dashboard of the platform's health.
 */
export class Observability extends Construct {
  readonly topic: ITopic;
  readonly dashboard: Dashboard;
  /** Every alarm that notifies the topic, its own and the ones it was given. */
  readonly alarms: Alarm[];

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    const topic = new Topic(this, 'Alarms', { displayName: 'Personalization platform alarms', enforceSSL: true, masterKey: props.key });
    if (props.key) {
      // CloudWatch publishes alarm notifications as itself: it needs the key of an encrypted topic.
      allowServiceToEncrypt(props.key, 'cloudwatch.amazonaws.com', 'CloudWatchAlarmNotifications');
    } else {
      Validations.of(topic).acknowledge({
        id: 'AwsSolutions-SNS2',
        reason: 'Alarm notifications carry no personal data, and CloudWatch cannot publish to a topic encrypted with the AWS-managed SNS key (encryption=customer-managed encrypts it with the platform key)',
      });
    }
    if (props.alarmEmail) topic.addSubscription(new EmailSubscription(props.alarmEmail));
    this.topic = topic;

    const five = Duration.minutes(5);
    const alarm = (id: string, description: string, metric: IMetric, threshold: number, comparison: ComparisonOperator, evaluationPeriods = 1) =>
      new Alarm(this, id, { alarmDescription: description, metric, threshold, comparisonOperator: comparison, evaluationPeriods, treatMissingData: TreatMissingData.NOT_BREACHING });
    const atLeast = ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD;
    const above = ComparisonOperator.GREATER_THAN_THRESHOLD;

    const apiMetric = (metricName: string, statistic: string) =>
      new Metric({ namespace: 'AWS/ApiGateway', metricName, dimensionsMap: { ApiName: props.api.restApiName, Stage: props.stageName }, statistic, period: five });
    const own: Alarm[] = [
      alarm('Api5xx', 'The API answered 5xx: a function or an authorizer is failing (see its logs)', apiMetric('5XXError', 'Sum'), 5, atLeast),
      alarm('Api4xxRate', 'More than 20% of API requests were refused for 15 minutes: a client sends bad requests or an old key', apiMetric('4XXError', 'Average'), 0.2, above, 3),
      alarm('ApiLatencyP99', 'API p99 latency above 1 s for 15 minutes', apiMetric('Latency', 'p99'), 1000, above, 3),
      ...props.streamConsumers.map((fn, i) =>
        alarm(`IteratorAge${i}`, `${fn.node.path}: more than 5 minutes behind the event stream (profiles are stale)`, fn.metric('IteratorAge', { statistic: 'Maximum', period: five }), 5 * 60_000, above, 2),
      ),
      ...props.failureQueues.map((queue, i) =>
        alarm(`FailureQueue${i}`, `${queue.node.path}: records or invocations failed for good (inspect, fix, replay)`, queue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: five }), 1, atLeast),
      ),
      ...props.functions.flatMap(({ fn }, i) => [
        alarm(`Errors${i}`, `${fn.node.path}: invocations failed`, fn.metricErrors({ statistic: 'Sum', period: five }), 1, atLeast),
        alarm(`Throttles${i}`, `${fn.node.path}: invocations throttled (concurrency limit)`, fn.metricThrottles({ statistic: 'Sum', period: five }), 1, atLeast),
      ]),
      ...props.tables.map((table, i) =>
        alarm(`TableThrottles${i}`, `${table.node.path}: DynamoDB throttled reads or writes`, tableThrottles(table, five, i), 1, atLeast),
      ),
      alarm(
        'ModelAge',
        `The model serving recommendations is older than ${props.modelMaxAgeHours} hours: training is not running or not succeeding`,
        props.services.recommend.customMetric('ModelAgeHours', { statistic: 'Maximum', period: Duration.hours(1) }),
        props.modelMaxAgeHours,
        above,
      ),
    ];
    this.alarms = [...own, ...props.alarms];
    const action = new SnsAction(topic);
    for (const a of this.alarms) {
      a.addAlarmAction(action);
      a.addOkAction(action);
    }

    this.dashboard = new Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(3) });
    const { ingest, writeAuthorizer, processor, recommend, lakeFilter, segmentClock } = props.services;
    const graph = (title: string, left: IMetric[], right: IMetric[] = []) => new GraphWidget({ title, left, right, width: 8, height: 6 });
    this.dashboard.addWidgets(
      new TextWidget({ markdown: '# Personalization platform\nAlarms page the SNS topic; README "Operations" says what to do for each.', width: 24, height: 2 }),
      new AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24, height: 6 }),
    );
    this.dashboard.addWidgets(
      graph('API requests and refusals', [apiMetric('Count', 'Sum'), apiMetric('4XXError', 'Sum'), apiMetric('5XXError', 'Sum')]),
      graph('API latency (ms)', [apiMetric('Latency', 'p50'), apiMetric('Latency', 'p99')]),
      graph('Ingestion', [ingest.customMetric('EventsAccepted'), ingest.customMetric('EventsRejected'), ingest.customMetric('RequestsRejected'), writeAuthorizer.customMetric('KeysRejected')]),
    );
    this.dashboard.addWidgets(
      graph('Events rejected by reason', [search('EventsRejectedByReason', ingest, 'reason')]),
      graph('Requests refused by the ingest function, by status', [search('RequestsRejectedByStatus', ingest, 'status')]),
    );
    this.dashboard.addWidgets(
      graph('Profile processor', ['RecordsProcessed', 'ProfileWrites', 'BadEvents', 'RecordsFailed'].map((name) => processor.customMetric(name))),
      graph('Stream lag (ms behind)', props.streamConsumers.map((fn) => fn.metric('IteratorAge', { statistic: 'Maximum', label: fn.node.path }))),
      graph('Failure queues (messages)', props.failureQueues.map((q) => q.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', label: q.node.path }))),
    );
    this.dashboard.addWidgets(
      graph('Recommendations', [recommend.customMetric('RecommendationsServed'), recommend.customMetric('FallbackResponses'), recommend.customMetric('ColdStartRequests')], [recommend.customMetric('ModelAgeHours', { statistic: 'Maximum' })]),
      graph('Recommendations by strategy and variant', [search('RecommendationsByStrategy', recommend, 'strategy', 'variant')]),
      graph('Lake', [lakeFilter.customMetric('LakeRecordsKept'), lakeFilter.customMetric('LakeRecordsDroppedNoConsent')]),
      graph('Segments', [segmentClock.customMetric('SegmentChecksSettled'), processor.customMetric('SegmentNoticesPublished'), processor.customMetric('SegmentNoticesDelayed')]),
    );
    this.dashboard.addWidgets(
      graph('Function errors', props.functions.map(({ fn }) => fn.metricErrors({ statistic: 'Sum', label: fn.node.path }))),
      graph('Function throttles', props.functions.map(({ fn }) => fn.metricThrottles({ statistic: 'Sum', label: fn.node.path }))),
      graph('DynamoDB throttles', props.tables.map((table, i) => tableThrottles(table, Duration.minutes(1), i))),
    );
  }
}

/** Every series of a custom metric that has dimensions besides `service` (one line per value). */
function search(metricName: string, fn: HouseFunction, ...dimensions: string[]): IMetric {
  const schema = [METRICS_NAMESPACE, 'service', ...dimensions].join(',');
  return new MathExpression({
    expression: `SEARCH('{${schema}} MetricName="${metricName}" service="${fn.serviceName}"', 'Sum', 60)`,
    label: metricName,
    period: Duration.minutes(1),
  });
}

/** Throttled reads and writes of a table (its own, not per operation). */
function tableThrottles(table: ITable, period: Duration, index: number): IMetric {
  const metric = (metricName: string) => new Metric({ namespace: 'AWS/DynamoDB', metricName, dimensionsMap: { TableName: table.tableName }, statistic: 'Sum', period });
  return new MathExpression({
    // Metric ids must be unique within a graph that shows several tables.
    expression: `FILL(r${index}, 0) + FILL(w${index}, 0)`,
    usingMetrics: { [`r${index}`]: metric('ReadThrottleEvents'), [`w${index}`]: metric('WriteThrottleEvents') },
    label: `${table.node.path} throttles`,
    period,
  });
}
