import type { APIGatewayProxyEvent } from 'aws-lambda';

export interface RequestOptions {
  resource?: string;
  method?: string;
  headers?: Record<string, string>;
  /** Raw body bytes; sent base64-encoded, as API Gateway does when every media type is binary. */
  body?: Buffer | string | null;
  pathParameters?: Record<string, string> | null;
  queryStringParameters?: Record<string, string> | null;
}

/** An API Gateway REST proxy event as the API delivers it (binary media types `*\/*`: the body is base64). */
export function apiEvent(opts: RequestOptions = {}): APIGatewayProxyEvent {
  const resource = opts.resource ?? '/v1/track';
  const body = opts.body === undefined || opts.body === null ? null : Buffer.from(opts.body).toString('base64');
  return {
    resource,
    path: resource,
    httpMethod: opts.method ?? 'POST',
    headers: opts.headers ?? {},
    multiValueHeaders: {},
    body,
    isBase64Encoded: body !== null,
    pathParameters: opts.pathParameters ?? null,
    queryStringParameters: opts.queryStringParameters ?? null,
    multiValueQueryStringParameters: null,
    stageVariables: null,
    requestContext: {} as APIGatewayProxyEvent['requestContext'],
  };
}

export { basicAuthorization as basicAuth } from '../../local/clients';

export function jsonBody(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}
