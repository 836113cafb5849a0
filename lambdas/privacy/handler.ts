import type { APIGatewayProxyEvent } from 'aws-lambda';
import { createInstrumentation, instrumented } from '../shared/instrumentation';
import { privacyDepsFromEnv } from './deps';
import { handlePrivacy } from './privacy';

const tools = createInstrumentation();
// An export's lake query must finish within API Gateway's 29 seconds.
const deps = privacyDepsFromEnv(tools, { athenaTimeoutMs: 25_000 });

export const handler = instrumented(tools, (event: APIGatewayProxyEvent) => handlePrivacy(event, deps));
