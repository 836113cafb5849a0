import { createHash } from 'node:crypto';
import type { Server } from 'node:http';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { createApiServer } from '../../local/api-gateway';
import { basicAuthorization, LOCAL_CREDENTIALS, signedFetch, signedHeaders } from '../../local/clients';
import { listen } from '../../local/emulators';
import type { InvokeOutcome } from '../../local/lambda-host';
import { LocalApi, LocalAuthorizer, modelFromTemplate } from '../../local/template-model';

/**
 * The local API Gateway's authorization, on a tiny model with fake functions: Lambda REQUEST authorizers (with their
 * cache) and IAM (SigV4), and the template's gateway responses for what it refuses.
 */

const ARN_PREFIX = 'arn:aws:execute-api:us-east-1:000000000000:local/prod';
const authorizer: LocalAuthorizer = { logicalId: 'WriteAuthorizer', functionId: 'Authorize', identityHeaders: ['authorization'], ttlSeconds: 300 };
const API: LocalApi = {
  stageName: 'prod',
  binaryMediaTypes: [],
  routes: [
    { logicalId: 'Track', method: 'POST', resource: '/v1/track', functionId: 'Ingest', authorization: 'CUSTOM', authorizer },
    { logicalId: 'Page', method: 'POST', resource: '/v1/page', functionId: 'Ingest', authorization: 'CUSTOM', authorizer },
    { logicalId: 'OneLetter', method: 'POST', resource: '/v1/t', functionId: 'Ingest', authorization: 'NONE' },
    { logicalId: 'GetProfile', method: 'GET', resource: '/v1/profiles/{userId}', functionId: 'Profiles', authorization: 'AWS_IAM' },
    { logicalId: 'PutItems', method: 'PUT', resource: '/v1/items', functionId: 'Items', authorization: 'AWS_IAM' },
  ],
  gatewayResponses: [
    {
      type: 'UNAUTHORIZED',
      statusCode: 401,
      headers: { 'WWW-Authenticate': 'Basic realm="personalization"', 'Access-Control-Allow-Origin': '*' },
      template: '{"success":false,"message":$context.error.messageString}',
    },
    { type: 'ACCESS_DENIED', headers: { 'Access-Control-Allow-Origin': '*' }, template: '{"success":false,"reason":"$context.error.message","type":"$context.error.responseType"}' },
    { type: 'DEFAULT_4XX', headers: { 'Access-Control-Allow-Origin': '*' } },
    { type: 'DEFAULT_5XX', headers: { 'Access-Control-Allow-Origin': '*', 'X-Default': '5xx' } },
  ],
};

/** A policy allowing `resource` (every method of the stage by default), as the authorizer returns it. */
const allow = (resource: unknown = `${ARN_PREFIX}/*/*`, effect = 'Allow') => ({
  principalId: 'src_writer',
  policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: effect, Resource: resource }] },
  context: { sourceId: 'src_writer', plan: 3, trusted: true },
  usageIdentifierKey: 'usage-key-1',
});

let server: Server;
let url: string;
let now: number;
/** What the authorizer function does with each event it is invoked with. */
let authorizerDoes: (event: any) => InvokeOutcome;
const calls: Array<{ functionId: string; event: any }> = [];
const calledWith = (functionId: string) => calls.filter((c) => c.functionId === functionId).map((c) => c.event);

beforeAll(async () => {
  const invoke = async (functionId: string, event: unknown): Promise<InvokeOutcome> => {
    calls.push({ functionId, event });
    if (functionId === 'Authorize') return authorizerDoes(event);
    return { ok: true, result: { statusCode: 200, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ requestContext: (event as APIGatewayProxyEvent).requestContext }) } };
  };
  server = createApiServer(API, invoke, { now: () => now });
  url = await listen(server);
});
afterAll(() => new Promise((resolve) => server.close(resolve)));
beforeEach(() => {
  calls.length = 0;
  now = Date.now();
  authorizerDoes = () => ({ ok: true, result: allow() });
});

const track = (authorization?: string, path = '/v1/track') =>
  fetch(`${url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...(authorization !== undefined ? { Authorization: authorization } : {}) }, body: '{"event":"x"}' });
/** A distinct write key per test, so that no test reads another's cached result. */
let keys = 0;
const newKey = () => basicAuthorization(`key-${++keys}`);

describe('Lambda REQUEST authorizers', () => {
  it('invokes the authorizer with the REQUEST event, then the function with its context, principal and usage key', async () => {
    const key = newKey();
    const response = await fetch(`${url}/v1/track?debug=1`, { method: 'POST', headers: { Authorization: key, 'X-Trace': 'a' }, body: '{"event":"x"}' });
    expect(response.status).toBe(200);

    const [event] = calledWith('Authorize');
    expect(event).toMatchObject({
      type: 'REQUEST',
      methodArn: `${ARN_PREFIX}/POST/v1/track`,
      resource: '/v1/track',
      path: '/v1/track',
      httpMethod: 'POST',
      headers: expect.objectContaining({ Authorization: key, 'X-Trace': 'a' }),
      multiValueHeaders: expect.objectContaining({ Authorization: [key] }),
      queryStringParameters: { debug: '1' },
      stageVariables: null,
      requestContext: expect.objectContaining({ stage: 'prod', resourcePath: '/v1/track', httpMethod: 'POST' }),
    });
    expect(event).not.toHaveProperty('body');

    const { requestContext } = (await response.json()) as { requestContext: APIGatewayProxyEvent['requestContext'] };
    expect(requestContext.authorizer).toEqual({ sourceId: 'src_writer', plan: 3, trusted: true, principalId: 'src_writer' });
    expect(requestContext.identity.apiKey).toBe('usage-key-1');
    expect(calledWith('Ingest')).toHaveLength(1);
  });

  it.each([
    ['no Authorization header', undefined],
    ['an empty Authorization header', ''],
  ])('answers 401 to a request with %s without invoking anything', async (_name, authorization) => {
    const response = await track(authorization);
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ success: false, message: 'Unauthorized' });
    expect(response.headers.get('www-authenticate')).toBe('Basic realm="personalization"');
    expect(calls).toEqual([]);
  });

  it('answers 401 when the authorizer throws Unauthorized, and asks it again next time (a refusal is not cached)', async () => {
    authorizerDoes = () => ({ ok: false, error: { errorType: 'Error', errorMessage: 'Unauthorized' } });
    const key = newKey();
    for (let i = 0; i < 2; i++) {
      const response = await track(key);
      expect(response.status).toBe(401);
      expect(await response.json()).toEqual({ success: false, message: 'Unauthorized' });
    }
    expect(calledWith('Authorize')).toHaveLength(2);
    expect(calledWith('Ingest')).toEqual([]);
  });

  it('answers 403 to an explicit Deny, with the ACCESS_DENIED gateway response', async () => {
    authorizerDoes = () => ({ ok: true, result: allow(`${ARN_PREFIX}/*/*`, 'Deny') });
    const response = await track(newKey());
    expect(response.status).toBe(403);
    expect(await response.json()).toEqual({ success: false, reason: 'User is not authorized to access this resource with an explicit deny', type: 'ACCESS_DENIED' });
    expect(calledWith('Ingest')).toEqual([]);
  });

  it.each([
    ['every method of the stage', `${ARN_PREFIX}/*`, true],
    ['every method and path of the stage', `${ARN_PREFIX}/*/*`, true],
    ['this method ARN', `${ARN_PREFIX}/POST/v1/track`, true],
    ['a list holding this method ARN', [`${ARN_PREFIX}/GET/v1/other`, `${ARN_PREFIX}/POST/v1/track`], true],
    ['one-character wildcards', `${ARN_PREFIX}/P?ST/v1/tr?ck`, true],
    ['everything', '*', true],
    ['another method', `${ARN_PREFIX}/GET/*`, false],
    ['another path', `${ARN_PREFIX}/POST/v1/page`, false],
    ['another stage', 'arn:aws:execute-api:us-east-1:000000000000:local/dev/*/*', false],
    ['another API', 'arn:aws:execute-api:us-east-1:000000000000:other/prod/*/*', false],
    ['a prefix without a wildcard', `${ARN_PREFIX}/POST/v1`, false],
  ])('matches the policy resource against the method ARN: %s', async (_name, resource, allowed) => {
    authorizerDoes = () => ({ ok: true, result: allow(resource) });
    const response = await track(newKey());
    expect(response.status).toBe(allowed ? 200 : 403);
    if (!allowed) expect(await response.json()).toMatchObject({ reason: 'User is not authorized to access this resource' });
  });

  it('allows only the execute-api:Invoke action (or a wildcard over it), and a Deny wins over an Allow', async () => {
    const withStatements = (Statement: object[]) => () => ({ ok: true as const, result: { ...allow(), policyDocument: { Version: '2012-10-17', Statement } } });
    const resource = `${ARN_PREFIX}/*`;
    for (const [statements, status] of [
      [[{ Action: 'execute-api:*', Effect: 'Allow', Resource: resource }], 200],
      [[{ Action: ['s3:GetObject', 'execute-api:invoke'], Effect: 'Allow', Resource: resource }], 200],
      [[{ Action: 's3:GetObject', Effect: 'Allow', Resource: resource }], 403],
      [[{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: resource }, { Action: 'execute-api:Invoke', Effect: 'Deny', Resource: `${ARN_PREFIX}/POST/*` }], 403],
    ] as const) {
      authorizerDoes = withStatements(statements as unknown as object[]);
      expect([statements, (await track(newKey())).status]).toEqual([statements, status]);
    }
  });

  it.each([
    ['the function fails', { ok: false, error: { errorType: 'Error', errorMessage: 'Secrets Manager is down' } }],
    ['it times out', { ok: false, error: { errorType: 'Sandbox.Timedout', errorMessage: 'Task timed out' } }],
    ['the result has no policy', { ok: true, result: { principalId: 'p' } }],
    ['the result has no principal', { ok: true, result: { ...allow(), principalId: undefined } }],
    ['a context value is an object', { ok: true, result: { ...allow(), context: { nested: { a: 1 } } } }],
  ] as Array<[string, InvokeOutcome]>)('answers 500 when %s, and asks again next time', async (_name, outcome) => {
    authorizerDoes = () => outcome;
    const key = newKey();
    for (let i = 0; i < 2; i++) {
      const response = await track(key);
      expect(response.status).toBe(500);
      expect(await response.json()).toEqual({ message: null });
      expect(response.headers.get('x-default')).toBe('5xx'); // DEFAULT_5XX's headers: AUTHORIZER_CONFIGURATION_ERROR has none of its own
    }
    expect(calledWith('Authorize')).toHaveLength(2);
    expect(calledWith('Ingest')).toEqual([]);
  });

  it('caches a result per identity source value for the TTL', async () => {
    const [first, second] = [newKey(), newKey()];
    expect((await track(first)).status).toBe(200);
    expect((await track(first)).status).toBe(200);
    expect((await track(first, '/v1/page')).status).toBe(200); // the same authorizer: the cached stage-wide policy allows it
    expect(calledWith('Authorize')).toHaveLength(1);

    expect((await track(second)).status).toBe(200);
    expect(calledWith('Authorize')).toHaveLength(2);

    now += 299_000;
    expect((await track(first)).status).toBe(200);
    expect(calledWith('Authorize')).toHaveLength(2);
    now += 2_000; // past the 300 s TTL
    expect((await track(first)).status).toBe(200);
    expect(calledWith('Authorize')).toHaveLength(3);
    expect(calledWith('Ingest')).toHaveLength(6);
  });

  it('evaluates a cached policy against each new method ARN', async () => {
    authorizerDoes = (event) => ({ ok: true, result: allow(event.methodArn) }); // allows the one method asked about
    const key = newKey();
    expect((await track(key)).status).toBe(200);
    const page = await track(key, '/v1/page');
    expect(page.status).toBe(403);
    expect(calledWith('Authorize')).toHaveLength(1); // answered from the cache
  });

  it('invokes the function of a route without authorization as it is, with no authorizer context', async () => {
    const response = await track(undefined, '/v1/t');
    expect(response.status).toBe(200);
    expect(((await response.json()) as any).requestContext.authorizer).toBeNull();
    expect(calledWith('Authorize')).toEqual([]);
  });
});

describe('IAM authorization (SigV4)', () => {
  const profileUrl = () => `${url}/v1/profiles/a%40b%20c?idType=anonymousId&x=1&x=0`;
  const itemsBody = JSON.stringify({ items: [{ itemId: 'tent', categories: ['Camping'] }] });
  const putItems = { method: 'PUT', headers: { 'Content-Type': 'application/json', 'X-Custom': 'signed' }, body: itemsBody };
  const message = async (response: Response) => ((await response.json()) as { message: string }).message;

  it('accepts a signed GET with a query and an encoded path, and tells the function who called', async () => {
    const response = await signedFetch(profileUrl());
    expect(response.status).toBe(200);
    const { requestContext } = (await response.json()) as { requestContext: APIGatewayProxyEvent['requestContext'] };
    expect(requestContext.identity).toMatchObject({ accessKey: 'local', caller: 'local', user: 'local', userArn: 'arn:aws:iam::000000000000:user/local', accountId: '000000000000' });
    expect(calledWith('Profiles')[0].pathParameters).toEqual({ userId: 'a%40b%20c' });
  });

  it('accepts a signed PUT with a body, whatever unsigned headers are added on the way', async () => {
    const headers = await signedHeaders(`${url}/v1/items?dryRun=true`, putItems);
    const response = await fetch(`${url}/v1/items?dryRun=true`, { method: 'PUT', headers: { ...headers, 'X-Forwarded-For': '10.0.0.1' }, body: itemsBody });
    expect(response.status).toBe(200);
    expect(calledWith('Items')[0].body).toBe(itemsBody);
  });

  it.each([
    ['the body changed', (h: Record<string, string>) => ({ url: `${url}/v1/items?dryRun=true`, headers: h, body: itemsBody.replace('tent', 'tant') })],
    ['the path changed', (h: Record<string, string>) => ({ url: `${url}/v1/items/?dryRun=true`, headers: h, body: itemsBody })],
    ['the query changed', (h: Record<string, string>) => ({ url: `${url}/v1/items?dryRun=false`, headers: h, body: itemsBody })],
    ['a query parameter added', (h: Record<string, string>) => ({ url: `${url}/v1/items?dryRun=true&force=1`, headers: h, body: itemsBody })],
    ['a signed header changed', (h: Record<string, string>) => ({ url: `${url}/v1/items?dryRun=true`, headers: { ...h, 'X-Custom': 'changed' }, body: itemsBody })],
    ['the date changed', (h: Record<string, string>) => ({ url: `${url}/v1/items?dryRun=true`, headers: { ...h, 'x-amz-date': h['x-amz-date'].replace(/(\d)Z$/, (_, d) => `${(Number(d) + 1) % 10}Z`) }, body: itemsBody })],
  ])('refuses a request with %s after signing (403)', async (_name, tamper) => {
    const sent = tamper(await signedHeaders(`${url}/v1/items?dryRun=true`, putItems));
    const response = await fetch(sent.url, { method: 'PUT', headers: sent.headers, body: sent.body });
    expect(response.status).toBe(403);
    expect(await message(response)).toMatch(/^The request signature we calculated does not match the signature you provided\. .*\n\nThe Canonical String for this request should have been\n'PUT\n/s);
    expect(calledWith('Items')).toEqual([]);
  });

  it('refuses a body that does not match its signed x-amz-content-sha256', async () => {
    const claimed = createHash('sha256').update(itemsBody).digest('hex');
    const headers = await signedHeaders(`${url}/v1/items`, { ...putItems, headers: { ...putItems.headers, 'x-amz-content-sha256': claimed } });
    expect((await fetch(`${url}/v1/items`, { method: 'PUT', headers, body: itemsBody })).status).toBe(200);
    const response = await fetch(`${url}/v1/items`, { method: 'PUT', headers, body: `${itemsBody} ` });
    expect(response.status).toBe(403);
    expect(await message(response)).toBe("The provided 'x-amz-content-sha256' header does not match what was computed.");
  });

  it('refuses a signature made with another secret, or by an unknown access key', async () => {
    const wrongSecret = await signedFetch(profileUrl(), {}, { accessKeyId: 'local', secretAccessKey: 'guess' });
    expect(wrongSecret.status).toBe(403);
    expect(await message(wrongSecret)).toMatch(/^The request signature we calculated does not match/);
    const unknownKey = await signedFetch(profileUrl(), {}, { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: LOCAL_CREDENTIALS.secretAccessKey });
    expect(unknownKey.status).toBe(403);
    expect(await message(unknownKey)).toBe('The security token included in the request is invalid.');
    expect(calledWith('Profiles')).toEqual([]);
  });

  it('answers 403 Missing Authentication Token without an Authorization header, and refuses an API key', async () => {
    const unsigned = await fetch(profileUrl());
    expect(unsigned.status).toBe(403);
    expect(await unsigned.json()).toEqual({ message: 'Missing Authentication Token' });
    expect(unsigned.headers.get('access-control-allow-origin')).toBe('*'); // DEFAULT_4XX's headers
    const basic = await fetch(profileUrl(), { headers: { Authorization: basicAuthorization('admin-key') } });
    expect(basic.status).toBe(403);
    expect(await message(basic)).toMatch(/Authorization header requires 'Credential' parameter/);
    expect(calledWith('Profiles')).toEqual([]);
  });

  it('refuses a signature more than 5 minutes off the clock, either way', async () => {
    const at = (offsetMs: number) => signedHeaders(profileUrl(), {}, LOCAL_CREDENTIALS, new Date(now + offsetMs)).then((headers) => fetch(profileUrl(), { headers }));
    expect((await at(-4 * 60_000)).status).toBe(200);
    expect((await at(4 * 60_000)).status).toBe(200);
    const expired = await at(-6 * 60_000);
    expect(expired.status).toBe(403);
    expect(await message(expired)).toMatch(/^Signature expired: \d{8}T\d{6}Z is now earlier than/);
    const early = await at(6 * 60_000);
    expect(early.status).toBe(403);
    expect(await message(early)).toMatch(/^Signature not yet current/);
  });
});

describe('gateway responses of the template', () => {
  it('reads authorizers, each method’s authorization and every gateway response from the template', () => {
    const fn = (id: string, Variables: object = {}) => ({
      Type: 'AWS::Lambda::Function',
      Properties: { Handler: 'index.handler', Environment: { Variables } },
      Metadata: { 'aws:asset:path': `asset.${id}`, 'aws:cdk:path': `Stack/${id}/Resource` },
    });
    // As CDK writes an authorizer's URI: the function's ARN three times.
    const arnPart = (fnId: string, n: number) => ({ 'Fn::Select': [n, { 'Fn::Split': [':', { 'Fn::GetAtt': [fnId, 'Arn'] }] }] });
    const uri = (fnId: string) => ({
      'Fn::Join': ['', ['arn:', arnPart(fnId, 1), ':apigateway:', arnPart(fnId, 3), ':lambda:path/2015-03-31/functions/', { 'Fn::GetAtt': [fnId, 'Arn'] }, '/invocations']],
    });
    const method = (resource: string, properties: object) => ({
      Type: 'AWS::ApiGateway::Method',
      Properties: { HttpMethod: 'POST', ResourceId: { Ref: resource }, RestApiId: { Ref: 'Api' }, Integration: { Type: 'AWS_PROXY', Uri: uri('Ingest') }, ...properties },
    });
    const authorizerWith = (properties: object) => ({
      Type: 'AWS::ApiGateway::Authorizer',
      Properties: { Type: 'REQUEST', IdentitySource: 'method.request.header.Authorization', AuthorizerResultTtlInSeconds: 300, AuthorizerUri: uri('Authorize'), RestApiId: { Ref: 'Api' }, ...properties },
    });
    const template = (extra: object = {}) => ({
      Resources: {
        Api: { Type: 'AWS::ApiGateway::RestApi', Properties: {} },
        V1: { Type: 'AWS::ApiGateway::Resource', Properties: { ParentId: { 'Fn::GetAtt': ['Api', 'RootResourceId'] }, PathPart: 'v1' } },
        Track: { Type: 'AWS::ApiGateway::Resource', Properties: { ParentId: { Ref: 'V1' }, PathPart: 'track' } },
        Ingest: fn('Ingest'),
        Authorize: fn('Authorize', { USAGE_IDENTIFIER_KEY: { 'Fn::Join': ['-', [{ Ref: 'AWS::StackName' }, 'write-usage-plan', { Ref: 'AWS::AccountId' }]] } }),
        WriteAuthorizer: authorizerWith({}),
        TrackPost: method('Track', { AuthorizationType: 'CUSTOM', AuthorizerId: { Ref: 'WriteAuthorizer' } }),
        TrackPut: method('Track', { HttpMethod: 'PUT', AuthorizationType: 'AWS_IAM' }),
        TrackGet: method('Track', { HttpMethod: 'GET' }),
        Unauthorized: {
          Type: 'AWS::ApiGateway::GatewayResponse',
          Properties: {
            ResponseType: 'UNAUTHORIZED',
            StatusCode: '401',
            ResponseParameters: { 'gatewayresponse.header.WWW-Authenticate': '\'Basic realm="personalization"\'', 'gatewayresponse.header.X-Dynamic': 'method.request.header.Origin' },
            ResponseTemplates: { 'application/json': '{"success":false,"message":$context.error.messageString}' },
          },
        },
        Default4xx: { Type: 'AWS::ApiGateway::GatewayResponse', Properties: { ResponseType: 'DEFAULT_4XX', ResponseParameters: { 'gatewayresponse.header.Access-Control-Allow-Origin': "'*'" } } },
        ...extra,
      },
    });
    const model = modelFromTemplate(template(), '/assembly');
    const api = model.api as LocalApi;
    // The authorizer's environment: pseudo parameters joined, as CloudFormation resolves them.
    expect(model.functions.find((f) => f.logicalId === 'Authorize')?.environment).toEqual({ USAGE_IDENTIFIER_KEY: 'Stack-write-usage-plan-000000000000' });
    expect(api.routes.find((r) => r.logicalId === 'TrackPost')).toEqual({
      logicalId: 'TrackPost',
      method: 'POST',
      resource: '/v1/track',
      functionId: 'Ingest',
      authorization: 'CUSTOM',
      authorizer: { logicalId: 'WriteAuthorizer', functionId: 'Authorize', identityHeaders: ['authorization'], ttlSeconds: 300 },
    });
    expect(api.routes.find((r) => r.logicalId === 'TrackPut')?.authorization).toBe('AWS_IAM');
    expect(api.routes.find((r) => r.logicalId === 'TrackGet')?.authorization).toBe('NONE');
    expect(api.gatewayResponses).toEqual([
      { type: 'UNAUTHORIZED', statusCode: 401, headers: { 'WWW-Authenticate': 'Basic realm="personalization"' }, template: '{"success":false,"message":$context.error.messageString}' },
      { type: 'DEFAULT_4XX', headers: { 'Access-Control-Allow-Origin': '*' } },
    ]);

    // What the local API would not honour is refused by name.
    expect(() => modelFromTemplate(template({ WriteAuthorizer: authorizerWith({ Type: 'TOKEN' }) }), '/a')).toThrow(/Authorizer WriteAuthorizer: the local API emulates REQUEST authorizers, not TOKEN/);
    expect(() => modelFromTemplate(template({ WriteAuthorizer: authorizerWith({ IdentitySource: 'method.request.querystring.key' }) }), '/a')).toThrow(/identity sources of request headers/);
    expect(() => modelFromTemplate(template({ TrackGet: method('Track', { HttpMethod: 'GET', AuthorizationType: 'COGNITO_USER_POOLS' }) }), '/a')).toThrow(/Method TrackGet: .*COGNITO_USER_POOLS/);
    expect(() => modelFromTemplate(template({ TrackGet: method('Track', { HttpMethod: 'GET', AuthorizationType: 'CUSTOM', AuthorizerId: { Ref: 'Nope' } }) }), '/a')).toThrow(/Method TrackGet: its authorizer/);
  });

  it('answers with the kind’s own status code, headers and template, else DEFAULT_4XX/5XX, else {"message": …}', async () => {
    const api: LocalApi = {
      ...API,
      gatewayResponses: [
        { type: 'MISSING_AUTHENTICATION_TOKEN', statusCode: 401, headers: { 'X-Kind': 'own' }, template: '{"error":"$context.error.message","again":$context.error.messageString}' },
        { type: 'DEFAULT_4XX', headers: { 'X-Kind': 'default' }, template: '{"default":$context.error.messageString}' },
      ],
    };
    const local = createApiServer(api, async () => ({ ok: false, error: { errorType: 'Error', errorMessage: 'boom' } }));
    const base = await listen(local);
    try {
      const own = await fetch(`${base}/v1/profiles/x`);
      expect([own.status, own.headers.get('x-kind'), await own.json()]).toEqual([401, 'own', { error: 'Missing Authentication Token', again: 'Missing Authentication Token' }]);
      const fallback = await fetch(`${base}/v1/profiles/x`, { headers: { Authorization: basicAuthorization('k') } }); // INVALID_SIGNATURE: DEFAULT_4XX, its status 403
      expect([fallback.status, fallback.headers.get('x-kind')]).toEqual([403, 'default']);
      expect(((await fallback.json()) as { default: string }).default).toMatch(/requires 'Credential'/);
      const unknownRoute = await fetch(`${base}/v2/nothing`);
      expect([unknownRoute.status, unknownRoute.headers.get('x-kind'), await unknownRoute.json()]).toEqual([404, 'default', { default: 'No route GET /v2/nothing' }]);
      const failed = await fetch(`${base}/v1/t`, { method: 'POST', body: '{}' }); // the function fails: 502, no 5xx response in the template
      expect([failed.status, failed.headers.get('x-kind'), await failed.json()]).toEqual([502, null, { message: 'Internal server error' }]);
    } finally {
      await new Promise((resolve) => local.close(resolve));
    }
  });
});
