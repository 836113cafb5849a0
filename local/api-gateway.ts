import { randomUUID } from 'node:crypto';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { LambdaAuthorizers, methodArnOf, verifySigV4 } from './api-auth';
import { LOCAL_CREDENTIALS } from './clients';
import { InvokeOutcome } from './lambda-host';
import { LOCAL_ACCOUNT, LocalApi, LocalRoute } from './template-model';

/** API Gateway's payload limit. */
const MAX_BODY_BYTES = 10 * 1024 * 1024;

/** The status code of each kind of API Gateway's own responses the local API gives (before the template's `StatusCode`). */
const GATEWAY_STATUS: Record<string, number> = {
  UNAUTHORIZED: 401,
  ACCESS_DENIED: 403,
  MISSING_AUTHENTICATION_TOKEN: 403,
  INVALID_SIGNATURE: 403,
  REQUEST_TOO_LARGE: 413,
  AUTHORIZER_CONFIGURATION_ERROR: 500,
  INTEGRATION_TIMEOUT: 504,
};

type Invoke = (functionId: string, event: unknown) => Promise<InvokeOutcome>;

export interface ApiServerOptions {
  /** Logs what failed behind a 5xx. */
  onError?: (message: string) => void;
  /** The only credentials the `AWS_IAM` routes take. @default LOCAL_CREDENTIALS */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** The clock of SigV4 dates and the authorizer cache. @default Date.now */
  now?: () => number;
}

/**
 * An HTTP server that does what API Gateway's REST API does with the template's routes: matches the
 * resource (static segments before `{params}`), authorizes the call as the method says (a Lambda REQUEST authorizer,
 * or a SigV4 signature with the local credentials: `api-auth.ts`), builds the proxy-integration event (path
 * parameters still percent-encoded, bodies base64-encoded when every media type is binary), invokes the function and
 * maps its result back, answering 502 when the function fails, as API Gateway does. Its own refusals are the
 * template's gateway responses (the kind's own, else DEFAULT_4XX/5XX: status, headers, body template). Served at the
 * root, without the stage prefix. Unknown routes get a plain 404 (API Gateway would say "Missing Authentication Token").
 */
export function createApiServer(api: LocalApi, invoke: Invoke, options: ApiServerOptions = {}): Server {
  const { onError = () => {}, credentials = LOCAL_CREDENTIALS, now = Date.now } = options;
  const routes = [...api.routes].sort((a, b) => specificity(b) - specificity(a));
  const authorizers = new LambdaAuthorizers(invoke, now, onError);
  // Node's own refusal of a request without Host has no body: `handle` refuses it with a reason instead.
  const server = createServer({ requireHostHeader: false }, (req, res) => {
    // API Gateway names every request, on every response (a client quotes it; the function's event carries it).
    const requestId = randomUUID();
    res.setHeader('x-amzn-RequestId', requestId);
    handle(req, res, requestId).catch((error) => {
      if (req.destroyed && !req.complete) return; // the client went away mid-body: there is no one to answer
      onError(`API request failed: ${(error as Error).stack ?? error}`);
      if (!res.headersSent) refuse(res, 'DEFAULT_5XX', 'Internal server error', 500);
    });
  });
  // A request the HTTP parser refuses (malformed, headers too large) is answered with a reason rather than Node's bare 400.
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    // As Node's default handler: never write into the middle of a response already begun on this connection.
    const pending = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (!socket.writable || pending?.headersSent) return void socket.destroy();
    const [status, reason] = error.code === 'HPE_HEADER_OVERFLOW' ? [431, 'Request Header Fields Too Large'] : [400, 'Bad Request'];
    const body = JSON.stringify({ message: `${reason}: malformed HTTP request (${error.code ?? error.message})` });
    socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  });
  return server;

  async function handle(req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> {
    if (req.httpVersion === '1.1' && req.headers.host === undefined) {
      req.resume();
      return refuse(res, 'DEFAULT_4XX', 'Bad Request: HTTP/1.1 requests need a Host header', 400);
    }
    const url = new URL(req.url ?? '/', 'http://local');
    const method = (req.method ?? 'GET').toUpperCase();
    const matches = routes.map((route) => ({ route, params: matchPath(route.resource, url.pathname) })).filter((m) => m.params !== undefined);
    const match = matches.find((m) => m.route.method === method || m.route.method === 'ANY');
    if (!match) {
      req.resume();
      const message = matches.length > 0 ? `Method ${method} not allowed on ${url.pathname}` : `No route ${method} ${url.pathname}`;
      return refuse(res, 'DEFAULT_4XX', message, matches.length > 0 ? 405 : 404);
    }
    const body = await readBody(req);
    if (body === undefined) return refuse(res, 'REQUEST_TOO_LARGE', 'Request Too Long');

    const { route, params } = match;
    if (route.mockHeaders) {
      res.writeHead(route.mockStatus ?? 200, route.mockHeaders);
      return void res.end();
    }
    const event = toProxyEvent(req, url, method, route, params as Record<string, string>, body, api, requestId);
    if (route.authorization === 'AWS_IAM') {
      const caller = verifySigV4(req, body, credentials, now());
      if ('type' in caller) return refuse(res, caller.type, caller.message);
      Object.assign(event.requestContext.identity, {
        accessKey: caller.accessKeyId,
        accountId: LOCAL_ACCOUNT,
        caller: caller.accessKeyId,
        user: caller.accessKeyId,
        userArn: `arn:aws:iam::${LOCAL_ACCOUNT}:user/${caller.accessKeyId}`,
      });
    } else if (route.authorization === 'CUSTOM' && route.authorizer) {
      const granted = await authorizers.authorize(route.authorizer, event, methodArnOf(api.stageName, method, url.pathname));
      if ('type' in granted) return refuse(res, granted.type, granted.message);
      event.requestContext.authorizer = granted.authorizer;
      event.requestContext.identity.apiKey = granted.apiKey;
    }
    const outcome = await invoke(route.functionId as string, event);
    if (!outcome.ok) {
      onError(`${route.resource}: ${outcome.error.errorType}: ${outcome.error.errorMessage}`);
      return outcome.error.errorType === 'Sandbox.Timedout' ? refuse(res, 'INTEGRATION_TIMEOUT', 'Endpoint request timed out') : refuse(res, 'DEFAULT_5XX', 'Internal server error', 502);
    }
    const result = outcome.result as APIGatewayProxyResult | null;
    if (!result || typeof result.statusCode !== 'number') {
      onError(`${route.resource}: the function's result is not a proxy integration response`);
      return refuse(res, 'DEFAULT_5XX', 'Internal server error', 502);
    }
    writeResult(res, result);
  }

  /**
   * One of API Gateway's own responses: the template's gateway response of this kind (its status code, headers and
   * `application/json` template), else DEFAULT_4XX/5XX (their headers and template, the kind's status), else
   * `{"message": …}`. `status` is for responses without a kind of their own (404, 405, 502).
   */
  function refuse(res: ServerResponse, type: string, message: string | null, status = GATEWAY_STATUS[type] ?? 500): void {
    const own = api.gatewayResponses.find((r) => r.type === type);
    const response = own ?? api.gatewayResponses.find((r) => r.type === (status >= 500 ? 'DEFAULT_5XX' : 'DEFAULT_4XX'));
    const template = response?.template ?? '{"message":$context.error.messageString}';
    const body = template.replace(/\$context\.error\.(messageString|message|responseType)\b/g, (_, field: string) =>
      field === 'messageString' ? JSON.stringify(message) : field === 'message' ? (message ?? '') : type,
    );
    res.writeHead(own?.statusCode ?? status, { 'Content-Type': 'application/json', ...response?.headers });
    res.end(body);
  }
}

function specificity(route: LocalRoute): number {
  return route.resource.split('/').reduce((score, segment) => score * 2 + (segment.startsWith('{') ? 0 : 1), 1);
}

/** Path parameters if `path` matches the resource template; values stay percent-encoded, as in API Gateway. */
function matchPath(resource: string, pathname: string): Record<string, string> | undefined {
  const want = resource.split('/').filter(Boolean);
  const got = pathname.split('/').filter(Boolean);
  if (want.length !== got.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    if (want[i].startsWith('{')) params[want[i].slice(1, -1)] = got[i];
    else if (want[i] !== got[i]) return undefined;
  }
  return params;
}

function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > MAX_BODY_BYTES ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function toProxyEvent(
  req: IncomingMessage,
  url: URL,
  method: string,
  route: LocalRoute,
  pathParameters: Record<string, string>,
  body: Buffer,
  api: LocalApi,
  requestId: string,
): APIGatewayProxyEvent {
  // Without a prototype: a header or parameter may be named `constructor` or `__proto__`.
  const headers: Record<string, string> = Object.create(null);
  const multiValueHeaders: Record<string, string[]> = Object.create(null);
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const [name, value] = [req.rawHeaders[i], req.rawHeaders[i + 1]];
    headers[name] = value;
    (multiValueHeaders[name] ??= []).push(value);
  }
  const query: Record<string, string> = Object.create(null);
  const multiQuery: Record<string, string[]> = Object.create(null);
  for (const [key, value] of url.searchParams) {
    query[key] = value;
    (multiQuery[key] ??= []).push(value);
  }
  const hasQuery = Object.keys(query).length > 0;
  const binary = isBinary(req.headers['content-type'], api.binaryMediaTypes);
  return {
    resource: route.resource,
    path: url.pathname,
    httpMethod: method,
    headers,
    multiValueHeaders,
    queryStringParameters: hasQuery ? query : null,
    multiValueQueryStringParameters: hasQuery ? multiQuery : null,
    pathParameters: Object.keys(pathParameters).length > 0 ? pathParameters : null,
    stageVariables: null,
    body: body.length === 0 ? null : binary ? body.toString('base64') : body.toString('utf8'),
    isBase64Encoded: body.length > 0 && binary,
    requestContext: {
      accountId: LOCAL_ACCOUNT,
      apiId: 'local',
      authorizer: null,
      httpMethod: method,
      identity: {
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: req.headers['user-agent'] ?? null,
        accessKey: null,
        accountId: null,
        apiKey: null,
        apiKeyId: null,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        user: null,
        userArn: null,
      },
      path: `/${api.stageName}${url.pathname}`,
      protocol: `HTTP/${req.httpVersion}`,
      requestId,
      requestTimeEpoch: Date.now(),
      resourceId: 'local',
      resourcePath: route.resource,
      stage: api.stageName,
    },
  };
}

/** Whether API Gateway would base64-encode a body of this content type (`type/subtype` patterns, `*` wildcards). */
function isBinary(contentType: string | undefined, binaryMediaTypes: string[]): boolean {
  const [type, subtype] = (contentType ?? '').split(';')[0].trim().toLowerCase().split('/');
  return binaryMediaTypes.some((pattern) => {
    const [t, s] = pattern.toLowerCase().split('/');
    return (t === '*' || t === type) && (s === '*' || s === subtype);
  });
}

function writeResult(res: ServerResponse, result: APIGatewayProxyResult): void {
  const headers: Record<string, string | string[]> = { ...(result.multiValueHeaders as Record<string, string[]>) };
  for (const [name, value] of Object.entries(result.headers ?? {})) headers[name] = String(value);
  res.writeHead(result.statusCode, headers);
  res.end(result.isBase64Encoded ? Buffer.from(result.body ?? '', 'base64') : (result.body ?? ''));
}
