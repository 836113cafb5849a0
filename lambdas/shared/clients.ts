import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KinesisClient } from '@aws-sdk/client-kinesis';
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

export const secretsManagerClient = () => new SecretsManagerClient({});
