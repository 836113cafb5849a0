import { AthenaClient } from '@aws-sdk/client-athena';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { FirehoseClient } from '@aws-sdk/client-firehose';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { PersonalizeEventsClient } from '@aws-sdk/client-personalize-events';
import { PersonalizeRuntimeClient } from '@aws-sdk/client-personalize-runtime';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { NodeHttpHandler } from '@smithy/node-http-handler';

/**
 * AWS SDK clients, built once per function instance. Endpoints come from the SDK's standard
 * `AWS_ENDPOINT_URL_<SERVICE>` variables, so the same code talks to AWS, the local runtime or LocalStack.
 */

/** DynamoDB: a few more SDK retries than the default 3, since throttling is the common transient error. */
export const dynamoDbClient = () => new DynamoDBClient({ maxAttempts: 5 });

/**
 * Kinesis over HTTP/1.1: the SDK would otherwise use HTTP/2 for Kinesis, which only SubscribeToShard needs
 * and which kinesalite does not speak.
 */
export const kinesisClient = () => new KinesisClient({ requestHandler: new NodeHttpHandler() });

/**
 * Firehose PutRecordBatch (bad events): the SDK's standard retries for whole calls; records a call reports as
 * failed are retried by `FirehoseBadEventStore`.
 */
export const firehoseClient = () => new FirehoseClient({});

export const secretsManagerClient = () => new SecretsManagerClient({});

/** Athena and S3 (the lake, query results): the SDK's standard retries; `runAthenaQuery` bounds the whole query. */
export const athenaClient = () => new AthenaClient({});
export const s3Client = () => new S3Client({});

/** EventBridge PutEvents (segment events): the SDK's standard retries; entries reported as failed are retried by `EventBridgeSegmentBus`. */
export const eventBridgeClient = () => new EventBridgeClient({});

/**
 * Personalize PutEvents: the SDK's standard retries (3 attempts in all, with backoff; throttling errors such as
 * `ThrottlingException` and `LimitExceededException` included), then the call fails and the forwarder reports
 * its records to Lambda as batch item failures.
 */
export const personalizeEventsClient = () => new PersonalizeEventsClient({ maxAttempts: 3 });

/**
 * Personalize GetRecommendations, on the request path: at most one retry, and the caller's deadline
 * (`PersonalizeRecommender`) bounds the whole call whatever the SDK is doing.
 */
export const personalizeRuntimeClient = () => new PersonalizeRuntimeClient({ maxAttempts: 2 });
