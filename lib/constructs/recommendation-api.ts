import { Duration } from 'aws-cdk-lib';
import { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { IStream } from 'aws-cdk-lib/aws-kinesis';
import { Construct } from 'constructs';
import { ConsentSettings } from '../../lambdas/shared/domain/consent';
import { consentSettingsToEnv } from '../../lambdas/shared/domain/settings';
import { ENV } from '../../lambdas/shared/env';
import { PlatformConfig } from '../config';
import { HouseFunction } from './house-function';

export interface RecommendationApiProps {
  items: ITable;
  profiles: ITable;
  identities: ITable;
  /** Where exposure events go. */
  stream: IStream;
  recommendations: PlatformConfig['recommendations'];
  personalize: PlatformConfig['personalize'];
  affinityHalfLifeDays: number;
  /** Without personalization consent a person gets the non-personalized list. */
  consent: ConsentSettings;
  logRetentionDays: number;
}

/**
 * The catalog function (`PUT /v1/items`, `DELETE /v1/items/{itemId}`, IAM authorization) and the recommendation
 * function (`GET /v1/recommendations`, read key checked by the API's authorizer): one profile read, one batch read of the model, an exposure
 * event on the stream.
 */
export class RecommendationApi extends Construct {
  readonly catalog: HouseFunction;
  readonly recommend: HouseFunction;

  constructor(scope: Construct, id: string, props: RecommendationApiProps) {
    super(scope, id);
    this.catalog = new HouseFunction(this, 'Catalog', {
      entry: 'items/handler.ts',
      serviceName: 'catalog-api',
      description: 'Item catalog: batch upsert and delete',
      memorySize: 512,
      timeout: Duration.seconds(15),
      logRetentionDays: props.logRetentionDays,
    })
      .bindTable(props.items, ENV.itemsTable, 'dynamodb:BatchWriteItem', 'dynamodb:GetItem', 'dynamodb:DeleteItem', 'dynamodb:UpdateItem')
      .invokedSynchronouslyBy('API Gateway (/v1/items, IAM authorization)', 'the caller gets the error response');

    const { campaignArn, timeoutMs } = props.personalize;
    this.recommend = new HouseFunction(this, 'Recommend', {
      entry: 'recommend/handler.ts',
      serviceName: 'recommendations',
      description: 'Recommendations: recent interactions through the item-to-item model, affinity, popularity, rules, experiments',
      // Scoring is CPU-bound: 1 GB buys most of a vCPU for a few more cents per million requests.
      memorySize: 1024,
      timeout: Duration.seconds(5),
      logRetentionDays: props.logRetentionDays,
      environment: {
        [ENV.recommendConfig]: JSON.stringify(props.recommendations),
        [ENV.affinityHalfLifeDays]: String(props.affinityHalfLifeDays),
        ...consentSettingsToEnv(props.consent),
        ...(campaignArn ? { [ENV.personalizeCampaignArn]: campaignArn, [ENV.personalizeTimeoutMs]: String(timeoutMs) } : {}),
      },
    })
      .bindTable(props.profiles, ENV.profilesTable, 'dynamodb:GetItem')
      .bindTable(props.identities, ENV.identitiesTable, 'dynamodb:BatchGetItem')
      // Scan only while no model exists: the newest catalog items are the fallback of a fresh install.
      .bindTable(props.items, ENV.itemsTable, 'dynamodb:BatchGetItem', 'dynamodb:Scan')
      .bindStream(props.stream, ENV.eventStream, 'kinesis:PutRecords')
      .invokedSynchronouslyBy('API Gateway (/v1/recommendations)', 'the caller gets the error response');
    if (campaignArn) {
      this.recommend.fn.addToRolePolicy(new PolicyStatement({ actions: ['personalize:GetRecommendations'], resources: [campaignArn] }));
    }
  }
}
