import { Aws, Duration, Fn } from 'aws-cdk-lib';
import { ApiKey, IdentitySource, Period, RequestAuthorizer, RestApi, UsagePlan } from 'aws-cdk-lib/aws-apigateway';
import { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { ENV } from '../../lambdas/shared/env';
import { UsageLimits } from '../config';
import { HouseFunction } from './house-function';

export interface KeyAuthorizerProps {
  /** Which credential: `write` (event ingestion) or `read` (recommendations). */
  credential: 'write' | 'read';
  /** The secret holding the credential's keys (`{"key": …}` or `{"keys": […]}`). */
  secret: ISecret;
  api: RestApi;
  usage: UsageLimits;
  logRetentionDays: number;
}

/**
 * A cached Lambda REQUEST authorizer for one credential (HTTP Basic, the key as the user name) and that credential's
 * usage plan. API Gateway caches the answer per `Authorization` header for five minutes, so a busy client costs
 * one authorizer call per five minutes, and a refused key never reaches the route's function. The authorizer names
 * the plan's API key as the request's usage identifier (the API's key source is AUTHORIZER): the plan's throttle
 * and quota apply to the credential's callers together, on top of the stage's limits.
 */
export class KeyAuthorizer extends Construct {
  readonly function: HouseFunction;
  readonly authorizer: RequestAuthorizer;

  constructor(scope: Construct, id: string, props: KeyAuthorizerProps) {
    super(scope, id);
    // Not a secret: with the key source AUTHORIZER, API Gateway takes it only from the authorizer, never from a
    // client. It only has to be unique in the account and region (and at least 20 characters).
    const usageKey = Fn.join('-', [Aws.STACK_NAME, props.credential, 'usage-plan', Aws.ACCOUNT_ID]);
    this.function = new HouseFunction(this, 'Function', {
      entry: 'authorize/handler.ts',
      serviceName: `authorize-${props.credential}`,
      description: `API Gateway authorizer: the ${props.credential} key over HTTP Basic`,
      memorySize: 256,
      timeout: Duration.seconds(5),
      logRetentionDays: props.logRetentionDays,
      environment: { [ENV.usageKey]: usageKey, [ENV.credential]: props.credential },
    })
      .bindSecret(props.secret, ENV.keySecret)
      .invokedSynchronouslyBy('API Gateway, as a REQUEST authorizer', 'API Gateway answers the request with an error, and the client retries');
    this.authorizer = new RequestAuthorizer(this, 'Authorizer', {
      handler: this.function.fn,
      identitySources: [IdentitySource.header('Authorization')],
      resultsCacheTtl: Duration.minutes(5),
    });

    const plan = new UsagePlan(this, 'UsagePlan', {
      description: `Every caller of the ${props.credential} key`,
      throttle: { rateLimit: props.usage.rateLimit, burstLimit: props.usage.burstLimit },
      ...(props.usage.dailyQuota ? { quota: { limit: props.usage.dailyQuota, period: Period.DAY } } : {}),
      apiStages: [{ api: props.api, stage: props.api.deploymentStage }],
    });
    plan.addApiKey(new ApiKey(this, 'UsageKey', { description: `Usage identifier of the ${props.credential} key's authorizer`, value: usageKey }));
  }
}
