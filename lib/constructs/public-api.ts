import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import {
  AccessLogFormat,
  Cors,
  EndpointType,
  LambdaIntegration,
  LogGroupLogDestination,
  MethodLoggingLevel,
  ResponseType,
  RestApi,
} from 'aws-cdk-lib/aws-apigateway';
import { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { ROUTES } from '../../lambdas/shared/domain/ingestion';
import { PlatformConfig } from '../config';

export interface PublicApiProps {
  ingest: IFunction;
  profiles: IFunction;
  /** The segment definitions admin API. */
  segments: IFunction;
  /** Erasure and export. */
  privacy: IFunction;
  catalog: IFunction;
  recommend: IFunction;
  settings: PlatformConfig['api'];
  logRetentionDays: number;
}

/**
 * The REST API: the Segment HTTP Tracking API routes (`/v1/track` … `/v1/batch`, plus the one-letter routes
 * analytics.js posts to), `/v1/profiles/{userId}` (and its `/consent`, its erasure with DELETE and its `/export`), `/v1/erasures/{id}`, `/v1/segments`, the catalog (`/v1/items`) and `/v1/recommendations`. Every media type is declared binary so bodies reach
 * the functions byte for byte (gzip, invalid UTF-8 and all) and are validated there.
 */
export class PublicApi extends Construct {
  readonly restApi: RestApi;

  constructor(scope: Construct, id: string, props: PublicApiProps) {
    super(scope, id);
    const accessLogs = new LogGroup(this, 'AccessLogs', { retention: props.logRetentionDays, removalPolicy: RemovalPolicy.DESTROY });
    this.restApi = new RestApi(this, 'Api', {
      description: 'Real-time personalization: Segment-compatible ingestion and profiles',
      endpointTypes: [EndpointType.REGIONAL],
      binaryMediaTypes: ['*/*'],
      // Access logging needs API Gateway's account-level CloudWatch role.
      cloudWatchRole: true,
      cloudWatchRoleRemovalPolicy: RemovalPolicy.DESTROY,
      deployOptions: {
        stageName: props.settings.stageName,
        tracingEnabled: true,
        metricsEnabled: true,
        loggingLevel: MethodLoggingLevel.ERROR,
        accessLogDestination: new LogGroupLogDestination(accessLogs),
        accessLogFormat: AccessLogFormat.jsonWithStandardFields({
          caller: false,
          httpMethod: true,
          ip: true,
          protocol: true,
          requestTime: true,
          resourcePath: true,
          responseLength: true,
          status: true,
          user: false,
        }),
        throttlingRateLimit: props.settings.throttlingRateLimit,
        throttlingBurstLimit: props.settings.throttlingBurstLimit,
      },
    });

    const v1 = this.restApi.root.addResource('v1');
    const ingest = new LambdaIntegration(props.ingest, { allowTestInvoke: false });
    const methods = Object.keys(ROUTES).map((route) =>
      v1.addResource(route, {
        // Browsers send events straight from web pages.
        defaultCorsPreflightOptions: {
          allowOrigins: Cors.ALL_ORIGINS,
          allowMethods: ['POST', 'OPTIONS'],
          allowHeaders: ['Content-Type', 'Content-Encoding', 'Authorization'],
          maxAge: Duration.days(1),
        },
      }).addMethod('POST', ingest),
    );
    const profiles = new LambdaIntegration(props.profiles, { allowTestInvoke: false });
    const profile = v1.addResource('profiles').addResource('{userId}');
    methods.push(profile.addMethod('GET', profiles), profile.addResource('consent').addMethod('PUT', profiles));
    const privacy = new LambdaIntegration(props.privacy, { allowTestInvoke: false });
    methods.push(
      profile.addMethod('DELETE', privacy),
      profile.addResource('export').addMethod('GET', privacy),
      v1.addResource('erasures').addResource('{erasureId}').addMethod('GET', privacy),
    );
    const segmentsApi = new LambdaIntegration(props.segments, { allowTestInvoke: false });
    const segments = v1.addResource('segments');
    const segment = segments.addResource('{segmentId}');
    methods.push(
      ...['GET', 'POST'].map((method) => segments.addMethod(method, segmentsApi)),
      ...['GET', 'PUT', 'DELETE'].map((method) => segment.addMethod(method, segmentsApi)),
    );
    const catalog = new LambdaIntegration(props.catalog, { allowTestInvoke: false });
    const items = v1.addResource('items');
    methods.push(items.addMethod('PUT', catalog), items.addResource('{itemId}').addMethod('DELETE', catalog));
    methods.push(
      v1
        .addResource('recommendations', {
          // Web pages may ask for recommendations directly (with the read key).
          defaultCorsPreflightOptions: { allowOrigins: Cors.ALL_ORIGINS, allowMethods: ['GET', 'OPTIONS'], allowHeaders: ['Authorization'], maxAge: Duration.days(1) },
        })
        .addMethod('GET', new LambdaIntegration(props.recommend, { allowTestInvoke: false })),
    );

    // API Gateway's own refusals (throttled, too large) must also be readable by browsers.
    for (const [name, type] of [['Default4xx', ResponseType.DEFAULT_4XX], ['Default5xx', ResponseType.DEFAULT_5XX]] as const) {
      this.restApi.addGatewayResponse(name, { type, responseHeaders: { 'Access-Control-Allow-Origin': "'*'" } });
    }

    const keyAuth =
      'Clients authenticate with API keys, checked by the function: the Segment write key over HTTP Basic on ingestion (what Segment SDKs send), the read key on recommendations, the admin key on profiles, segments and the catalog. Cognito user pools do not fit SDK and server-to-server callers';
    for (const method of methods) {
      Validations.of(method).acknowledge({ id: 'AwsSolutions-APIG4', reason: keyAuth }, { id: 'AwsSolutions-COG4', reason: keyAuth });
    }
    Validations.of(this.restApi).acknowledge(
      { id: 'AwsSolutions-APIG2', reason: 'Requests are validated by the functions with the shared zod schema, which reports each rejected event with its reason (API Gateway models cannot)' },
      { id: 'AwsSolutions-APIG3', reason: 'AWS WAF is optional (it has a monthly cost); stage throttling limits abuse meanwhile' },
      {
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
        reason: 'API Gateway account-level logging role: the AWS-managed policy is the documented way to grant it',
      },
    );
  }
}
