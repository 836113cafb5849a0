import type { APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { secretsManagerClient } from '../shared/clients';
import { ENV, requireEnv } from '../shared/env';
import { createInstrumentation, instrumented } from '../shared/instrumentation';
import { SecretsManagerKeyStore } from '../shared/store/key-store';
import { authorize } from './authorize';

const tools = createInstrumentation();
const deps = {
  keys: new SecretsManagerKeyStore(tools.tracer.captureAWSv3Client(secretsManagerClient()), requireEnv(ENV.keySecret)),
  usageKey: requireEnv(ENV.usageKey),
  logger: tools.logger,
  metrics: tools.metrics,
};

export const handler = instrumented(tools, (event: APIGatewayRequestAuthorizerEvent) => authorize(event, deps));
