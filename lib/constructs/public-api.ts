import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import {
  AccessLogFormat,
  ApiKeySourceType,
  AuthorizationType,
  Cors,
  EndpointType,
  IResource,
  LambdaIntegration,
  LogGroupLogDestination,
  Method,
  MethodLoggingLevel,
  MethodOptions,
  ResponseType,
  RestApi,
} from 'aws-cdk-lib/aws-apigateway';
import { ManagedPolicy, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { CfnWebACL, CfnWebACLAssociation } from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import { ROUTES } from '../../lambdas/shared/domain/ingestion';
import { PlatformConfig, UsageLimits } from '../config';
import { KeyAuthorizer } from './key-authorizer';

export interface PublicApiProps {
  ingest: IFunction;
  profiles: IFunction;
  /** The segment definitions admin API. */
  segments: IFunction;
  /** Erasure and export. */
  privacy: IFunction;
  catalog: IFunction;
  recommend: IFunction;
  /** The write keys, checked by an authorizer on the ingestion routes that take HTTP Basic. */
  writeKey: ISecret;
  /** The read keys, checked by an authorizer on the recommendation route. */
  readKey: ISecret;
  settings: PlatformConfig['api'];
  logRetentionDays: number;
}

/**
 * The REST API: the Segment HTTP Tracking API routes (`/v1/track` … `/v1/batch`, plus the one-letter routes
 * analytics.js posts to), `/v1/profiles/{userId}` (and its `/consent`, its erasure with DELETE and its `/export`),
 * `/v1/erasures/{id}`, `/v1/segments`, the catalog (`/v1/items`) and `/v1/recommendations`. Every media type is
 * declared binary so bodies reach the functions byte for byte (gzip, invalid UTF-8 and all) and are validated there.
 *
 * Who may call what (README, "Security model"):
 * - the full-name ingestion routes: the write key over HTTP Basic, checked by the write authorizer;
 * - the one-letter ingestion routes: the write key, checked by the ingest function (analytics.js sends it in the
 *   body, which no authorizer can read; the function refuses a request without a valid key before writing anything);
 * - `/v1/recommendations`: the read key, checked by the read authorizer;
 * - every admin route (profiles, erasure and export, segments, the catalog): IAM (SigV4-signed requests), allowed by
 *   the `adminPolicy` managed policy.
 */
export class PublicApi extends Construct {
  readonly restApi: RestApi;
  readonly writeAuthorizer: KeyAuthorizer;
  readonly readAuthorizer: KeyAuthorizer;
  /** Allows `execute-api:Invoke` on every admin route: attach it to the roles of the people and services that administer the platform. */
  readonly adminPolicy: ManagedPolicy;
  /** Only with `waf.enabled`. */
  readonly webAcl?: CfnWebACL;

  constructor(scope: Construct, id: string, props: PublicApiProps) {
    super(scope, id);
    const { settings } = props;
    const accessLogs = new LogGroup(this, 'AccessLogs', { retention: props.logRetentionDays, removalPolicy: RemovalPolicy.DESTROY });
    this.restApi = new RestApi(this, 'Api', {
      description: 'Real-time personalization: Segment-compatible ingestion and profiles',
      endpointTypes: [EndpointType.REGIONAL],
      binaryMediaTypes: ['*/*'],
      // Usage plans are chosen by the authorizers (one per credential), never by a client's x-api-key header.
      apiKeySourceType: ApiKeySourceType.AUTHORIZER,
      // Access logging needs API Gateway's account-level CloudWatch role.
      cloudWatchRole: true,
      cloudWatchRoleRemovalPolicy: RemovalPolicy.DESTROY,
      deployOptions: {
        stageName: settings.stageName,
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
        throttlingRateLimit: settings.throttlingRateLimit,
        throttlingBurstLimit: settings.throttlingBurstLimit,
      },
    });
    const authorizer = (id: string, credential: 'write' | 'read', secret: ISecret, usage: UsageLimits) =>
      new KeyAuthorizer(this, id, { credential, secret, api: this.restApi, usage, logRetentionDays: props.logRetentionDays });
    this.writeAuthorizer = authorizer('WriteAuthorizer', 'write', props.writeKey, settings.writeKeyUsage);
    this.readAuthorizer = authorizer('ReadAuthorizer', 'read', props.readKey, settings.readKeyUsage);
    const byKey = (keyAuthorizer: KeyAuthorizer): MethodOptions => ({
      authorizationType: AuthorizationType.CUSTOM,
      authorizer: keyAuthorizer.authorizer,
      // Makes the usage plan the authorizer names apply.
      apiKeyRequired: true,
    });
    const byIam: MethodOptions = { authorizationType: AuthorizationType.IAM };

    const v1 = this.restApi.root.addResource('v1');
    const ingest = new LambdaIntegration(props.ingest, { allowTestInvoke: false });
    const keyInBody: Method[] = [];
    for (const route of Object.keys(ROUTES)) {
      const resource = v1.addResource(route, {
        // Browsers send events straight from web pages.
        defaultCorsPreflightOptions: {
          allowOrigins: Cors.ALL_ORIGINS,
          allowMethods: ['POST', 'OPTIONS'],
          allowHeaders: ['Content-Type', 'Content-Encoding', 'Authorization'],
          maxAge: Duration.days(1),
        },
      });
      // The one-letter routes are analytics.js's, which may send the key in the body.
      if (route.length === 1) keyInBody.push(resource.addMethod('POST', ingest));
      else resource.addMethod('POST', ingest, byKey(this.writeAuthorizer));
    }

    const admin: Array<{ method: Method; path: string }> = [];
    const adminMethod = (resource: IResource, httpMethod: string, integration: LambdaIntegration) => {
      admin.push({ method: resource.addMethod(httpMethod, integration, byIam), path: resource.path });
    };
    const profiles = new LambdaIntegration(props.profiles, { allowTestInvoke: false });
    const profile = v1.addResource('profiles').addResource('{userId}');
    adminMethod(profile, 'GET', profiles);
    adminMethod(profile.addResource('consent'), 'PUT', profiles);
    const privacy = new LambdaIntegration(props.privacy, { allowTestInvoke: false });
    adminMethod(profile, 'DELETE', privacy);
    adminMethod(profile.addResource('export'), 'GET', privacy);
    adminMethod(v1.addResource('erasures').addResource('{erasureId}'), 'GET', privacy);
    const segmentsApi = new LambdaIntegration(props.segments, { allowTestInvoke: false });
    const segments = v1.addResource('segments');
    const segment = segments.addResource('{segmentId}');
    for (const method of ['GET', 'POST']) adminMethod(segments, method, segmentsApi);
    for (const method of ['GET', 'PUT', 'DELETE']) adminMethod(segment, method, segmentsApi);
    const catalog = new LambdaIntegration(props.catalog, { allowTestInvoke: false });
    const items = v1.addResource('items');
    adminMethod(items, 'PUT', catalog);
    adminMethod(items.addResource('{itemId}'), 'DELETE', catalog);

    v1.addResource('recommendations', {
      // Web pages may ask for recommendations directly (with the read key).
      defaultCorsPreflightOptions: { allowOrigins: Cors.ALL_ORIGINS, allowMethods: ['GET', 'OPTIONS'], allowHeaders: ['Authorization'], maxAge: Duration.days(1) },
    }).addMethod('GET', new LambdaIntegration(props.recommend, { allowTestInvoke: false }), byKey(this.readAuthorizer));

    this.adminPolicy = new ManagedPolicy(this, 'AdminPolicy', {
      description: 'Calls the personalization admin API: profiles, consent, erasure and export, segments, the catalog',
      statements: [
        new PolicyStatement({
          actions: ['execute-api:Invoke'],
          resources: admin.map(({ method, path }) => this.restApi.arnForExecuteApi(method.httpMethod, path, settings.stageName)),
        }),
      ],
    });

    this.addGatewayResponses();
    if (settings.waf.enabled) this.webAcl = this.addWebAcl(settings.waf.rateLimitPer5Minutes);

    const bodyKeyAuth =
      'analytics.js posts to these routes with the write key in the body (no Authorization header), which no API Gateway authorizer can read: the ingest function checks the key before it writes anything. Cognito does not fit SDK callers';
    for (const method of keyInBody) {
      Validations.of(method).acknowledge({ id: 'AwsSolutions-APIG4', reason: bodyKeyAuth }, { id: 'AwsSolutions-COG4', reason: bodyKeyAuth });
    }
    const notCognito = 'Callers are SDKs, backends and administrators: a Lambda authorizer checks API keys and IAM signs admin calls; Cognito user pools do not fit them';
    for (const child of this.restApi.root.node.findAll()) {
      if (child instanceof Method && child.httpMethod !== 'OPTIONS' && !keyInBody.includes(child)) {
        Validations.of(child).acknowledge({ id: 'AwsSolutions-COG4', reason: notCognito });
      }
    }
    Validations.of(this.restApi).acknowledge(
      { id: 'AwsSolutions-APIG2', reason: 'Requests are validated by the functions with the shared zod schema, which reports each rejected event with its reason (API Gateway models cannot)' },
      {
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
        reason: 'API Gateway account-level logging role: the AWS-managed policy is the documented way to grant it',
      },
      ...(settings.waf.enabled ? [] : [{ id: 'AwsSolutions-APIG3', reason: 'AWS WAF is a deployment choice (wafEnabled=true; it has a monthly cost); stage and per-key usage-plan throttling limit abuse meanwhile' }]),
    );
  }

  /** API Gateway's own refusals: readable by browsers (CORS), and a 401 that says what to send. */
  private addGatewayResponses(): void {
    const cors = { 'Access-Control-Allow-Origin': "'*'" };
    this.restApi.addGatewayResponse('Unauthorized', {
      type: ResponseType.UNAUTHORIZED,
      statusCode: '401',
      responseHeaders: { ...cors, 'WWW-Authenticate': `'Basic realm="personalization"'` },
      templates: { 'application/json': '{"success":false,"message":"Missing or invalid key: send HTTP Basic authentication with the key as the user name and an empty password"}' },
    });
    for (const [name, type] of [['Default4xx', ResponseType.DEFAULT_4XX], ['Default5xx', ResponseType.DEFAULT_5XX]] as const) {
      this.restApi.addGatewayResponse(name, { type, responseHeaders: cors });
    }
  }

  /** A regional web ACL on the stage: one rate-based rule per client IP, and AWS's IP reputation list. */
  private addWebAcl(rateLimitPer5Minutes: number): CfnWebACL {
    const visibility = (metricName: string) => ({ cloudWatchMetricsEnabled: true, metricName, sampledRequestsEnabled: true });
    const webAcl = new CfnWebACL(this, 'WebAcl', {
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      visibilityConfig: visibility('PersonalizationApi'),
      rules: [
        {
          name: 'RateLimitPerIp',
          priority: 0,
          action: { block: {} },
          statement: { rateBasedStatement: { limit: rateLimitPer5Minutes, aggregateKeyType: 'IP', evaluationWindowSec: 300 } },
          visibilityConfig: visibility('RateLimitPerIp'),
        },
        {
          name: 'IpReputation',
          priority: 1,
          overrideAction: { none: {} },
          statement: { managedRuleGroupStatement: { vendorName: 'AWS', name: 'AWSManagedRulesAmazonIpReputationList' } },
          visibilityConfig: visibility('IpReputation'),
        },
      ],
    });
    new CfnWebACLAssociation(this, 'WebAclAssociation', { resourceArn: this.restApi.deploymentStage.stageArn, webAclArn: webAcl.attrArn });
    return webAcl;
  }
}
