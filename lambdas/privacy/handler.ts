import type { APIGatewayProxyEvent } from 'aws-lambda';
import { secretsManagerClient } from '../shared/clients';
import { ENV, requireEnv } from '../shared/env';
import { createInstrumentation, instrumented } from '../shared/instrumentation';
import { SecretsManagerKeyStore } from '../shared/store/key-store';
import { privacyDepsFromEnv } from './deps';
import { handlePrivacy } from './privacy';

const tools = createInstrumentation();
const deps = {
  // An export's lake query must finish within API Gateway's 29 seconds.
  ...privacyDepsFromEnv(tools, { athenaTimeoutMs: 25_000 }),
  adminKeys: new SecretsManagerKeyStore(tools.tracer.captureAWSv3Client(secretsManagerClient()), requireEnv(ENV.adminKeySecret)),
};

export const handler = instrumented(tools, (event: APIGatewayProxyEvent) => handlePrivacy(event, deps));
