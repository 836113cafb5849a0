import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { header } from '../lambdas/shared/http';
import { queryParameters } from './clients';
import type { InvokeOutcome } from './lambda-host';
import { LOCAL_ACCOUNT, LOCAL_REGION, LocalAuthorizer } from './template-model';

/**
 * What API Gateway does before it invokes a method's function: runs its Lambda authorizer (`CUSTOM`) or checks
 * its caller's SigV4 signature (`AWS_IAM`). A refusal names the gateway response API Gateway answers with.
 */

export type Refusal = { type: string; message: string | null };
type Invoke = (functionId: string, event: unknown) => Promise<InvokeOutcome>;

interface Allowed {
  principalId: string;
  policyDocument: { Statement: PolicyStatement[] };
  context: Record<string, string | number | boolean>;
  usageIdentifierKey?: string;
}
type PolicyStatement = { Effect?: unknown; Action?: unknown; Resource?: unknown };

/** What an authorizer adds to the proxy event's `requestContext`. */
export type AuthorizerGrant = { authorizer: Record<string, unknown>; apiKey: string | null };

const MAX_CACHED = 10_000;

/**
 * Lambda REQUEST authorizers, as API Gateway runs them:
 * - a request missing one of the identity source headers (or with it empty) is refused 401 without invoking;
 * - the function gets the REQUEST event (the proxy event's fields without the body, `type` and `methodArn`);
 * - its result is cached per authorizer and identity source values for the authorizer's TTL, and the cached policy
 *   is evaluated against each new method ARN (a policy for one method alone refuses the others from the cache);
 * - `Error('Unauthorized')` answers 401; a Deny, or no Allow whose resource covers the method ARN (`*` and `?`
 *   wildcards), 403; any other error or a malformed result 500 (as API Gateway's AuthorizerConfigurationException),
 *   and none of these is cached;
 * - on Allow the function's `requestContext.authorizer` is the result's context plus `principalId`, and
 *   `requestContext.identity.apiKey` its `usageIdentifierKey` (usage plans are not emulated).
 */
export class LambdaAuthorizers {
  private readonly cache = new Map<string, { allowed: Allowed; expiresAt: number }>();

  constructor(
    private readonly invoke: Invoke,
    private readonly now: () => number,
    private readonly onError: (message: string) => void,
  ) {}

  async authorize(authorizer: LocalAuthorizer, event: APIGatewayProxyEvent, methodArn: string): Promise<AuthorizerGrant | Refusal> {
    const identity = authorizer.identityHeaders.map((name) => header(event, name));
    if (identity.some((value) => !value)) return { type: 'UNAUTHORIZED', message: 'Unauthorized' };

    const key = JSON.stringify([authorizer.logicalId, ...identity]);
    let allowed = this.cache.get(key);
    if (allowed && allowed.expiresAt <= this.now()) {
      this.cache.delete(key);
      allowed = undefined;
    }
    if (!allowed) {
      const { body: _body, isBase64Encoded: _encoded, ...request } = event;
      const outcome = await this.invoke(authorizer.functionId, { type: 'REQUEST', methodArn, ...request });
      if (!outcome.ok && outcome.error.errorMessage === 'Unauthorized') return { type: 'UNAUTHORIZED', message: 'Unauthorized' };
      const problem = outcome.ok ? malformed(outcome.result) : `${outcome.error.errorType}: ${outcome.error.errorMessage}`;
      if (problem !== undefined) {
        this.onError(`Authorizer ${authorizer.logicalId} failed (API Gateway answers 500): ${problem}`);
        return { type: 'AUTHORIZER_CONFIGURATION_ERROR', message: null };
      }
      allowed = { allowed: (outcome as { result: Allowed }).result, expiresAt: this.now() + authorizer.ttlSeconds * 1000 };
      if (authorizer.ttlSeconds > 0) {
        if (this.cache.size >= MAX_CACHED) this.cache.delete(this.cache.keys().next().value as string);
        this.cache.set(key, allowed);
      }
    }

    const verdict = evaluate(allowed.allowed.policyDocument.Statement, methodArn);
    if (verdict !== 'Allow') {
      return { type: 'ACCESS_DENIED', message: `User is not authorized to access this resource${verdict === 'Deny' ? ' with an explicit deny' : ''}` };
    }
    const { principalId, context, usageIdentifierKey } = allowed.allowed;
    return { authorizer: { ...context, principalId }, apiKey: usageIdentifierKey ?? null };
  }
}

/** Why an authorizer's result is not one API Gateway takes, if it is not. */
function malformed(result: unknown): string | undefined {
  const r = result as Partial<Allowed> | null;
  if (typeof r?.principalId !== 'string' || r.principalId === '') return 'no principalId';
  if (!Array.isArray(r.policyDocument?.Statement)) return 'no policyDocument with a Statement list';
  if (Object.values(r.context ?? {}).some((v) => !['string', 'number', 'boolean'].includes(typeof v))) return 'context values must be strings, numbers or booleans';
  if (r.usageIdentifierKey !== undefined && typeof r.usageIdentifierKey !== 'string') return 'usageIdentifierKey is not a string';
  return undefined;
}

/** An IAM policy's verdict on invoking `methodArn`: an explicit Deny wins over an Allow; neither is an implicit deny. */
function evaluate(statements: PolicyStatement[], methodArn: string): 'Allow' | 'Deny' | 'None' {
  const matching = statements.filter(
    (s) => list(s.Action).some((a) => glob(a, true).test('execute-api:Invoke')) && list(s.Resource).some((r) => glob(r, false).test(methodArn)),
  );
  if (matching.some((s) => s.Effect === 'Deny')) return 'Deny';
  return matching.some((s) => s.Effect === 'Allow') ? 'Allow' : 'None';
}

const list = (value: unknown): string[] => (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === 'string');

/** An IAM pattern: `*` matches any run of characters (`/` included), `?` any one. Actions are case-insensitive. */
function glob(pattern: string, ignoreCase: boolean): RegExp {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${source}$`, ignoreCase ? 'i' : '');
}

/** The ARN a Lambda authorizer gets for a request: `arn:aws:execute-api:<region>:<account>:local/<stage>/<METHOD>/<path>`. */
export function methodArnOf(stage: string, method: string, path: string): string {
  return `arn:aws:execute-api:${LOCAL_REGION}:${LOCAL_ACCOUNT}:local/${stage}/${method}/${path.replace(/^\//, '')}`;
}


/** How far a signature's `X-Amz-Date` may be from the clock. */
const MAX_SKEW_MS = 5 * 60_000;
const SIGNATURE_MISMATCH =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

/**
 * Checks a request's SigV4 signature (`Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`
 * and `X-Amz-Date`) as API Gateway does for `AWS_IAM` methods, against `credentials` (the local ones). The canonical
 * request is rebuilt from what was received, not from what the client says it signed: the path as sent with each
 * segment URI-encoded once more, the query decoded and re-encoded in order, the signed headers' values, and the
 * SHA-256 of the body received (an `X-Amz-Content-Sha256` must equal it). The scope must be today's, in the local
 * region, for `execute-api`; the date within 5 minutes of the clock. The caller's identity on success.
 */
export function verifySigV4(
  req: Pick<IncomingMessage, 'method' | 'url' | 'rawHeaders'>,
  body: Buffer,
  credentials: { accessKeyId: string; secretAccessKey: string },
  now: number,
): { accessKeyId: string } | Refusal {
  const headers = new Map<string, string[]>();
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i].toLowerCase();
    headers.set(name, [...(headers.get(name) ?? []), req.rawHeaders[i + 1]]);
  }
  const authorization = headers.get('authorization')?.[0];
  if (!authorization) return { type: 'MISSING_AUTHENTICATION_TOKEN', message: 'Missing Authentication Token' };
  const invalid = (message: string): Refusal => ({ type: 'INVALID_SIGNATURE', message });

  const fields = new Map<string, string>();
  const [algorithm, ...rest] = authorization.trim().split(/\s+/);
  for (const part of rest.join(' ').split(',')) {
    const equals = part.indexOf('=');
    if (equals > 0) fields.set(part.slice(0, equals).trim(), part.slice(equals + 1).trim());
  }
  const amzDate = headers.get('x-amz-date')?.[0];
  const missing = ['Credential', 'Signature', 'SignedHeaders'].filter((name) => !fields.get(name)).map((name) => `Authorization header requires '${name}' parameter.`);
  if (!amzDate) missing.push("Authorization header requires existence of a 'X-Amz-Date' header.");
  if (algorithm !== 'AWS4-HMAC-SHA256' || missing.length > 0) return invalid([...missing, `Authorization=${authorization}`].join(' '));

  const [accessKeyId, day, region, service, terminator, ...extra] = (fields.get('Credential') as string).split('/');
  if (accessKeyId !== credentials.accessKeyId) return invalid('The security token included in the request is invalid.');
  const signedAt = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate as string);
  if (!signedAt) return invalid(`Invalid X-Amz-Date "${amzDate}": it must be YYYYMMDDTHHMMSSZ.`);
  if (extra.length > 0 || terminator !== 'aws4_request') return invalid(`Credential should be scoped with a valid terminator: 'aws4_request'.`);
  if (service !== 'execute-api') return invalid(`Credential should be scoped to correct service: 'execute-api'.`);
  if (region !== LOCAL_REGION) return invalid(`Credential should be scoped to a valid region, not '${region}' (the local API is in ${LOCAL_REGION}).`);
  if (day !== (amzDate as string).slice(0, 8)) return invalid(`Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${day}' != '${(amzDate as string).slice(0, 8)}'.`);
  const at = Date.UTC(+signedAt[1], +signedAt[2] - 1, +signedAt[3], +signedAt[4], +signedAt[5], +signedAt[6]);
  const format = (t: number) => new Date(t).toISOString().replace(/[-:]|\.\d{3}/g, '');
  if (at < now - MAX_SKEW_MS) return invalid(`Signature expired: ${amzDate} is now earlier than ${format(now - MAX_SKEW_MS)} (${format(now)} - 5 min.)`);
  if (at > now + MAX_SKEW_MS) return invalid(`Signature not yet current: ${amzDate} is still later than ${format(now + MAX_SKEW_MS)} (${format(now)} + 5 min.)`);

  const signedHeaders = (fields.get('SignedHeaders') as string).split(';');
  if (!signedHeaders.includes('host')) return invalid("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
  if (!signedHeaders.includes('x-amz-date')) return invalid("'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.");
  const payloadHash = sha256Hex(body);
  const claimedHash = headers.get('x-amz-content-sha256')?.[0];
  if (claimedHash !== undefined && claimedHash !== payloadHash) return invalid("The provided 'x-amz-content-sha256' header does not match what was computed.");

  const [rawPath, rawQuery = ''] = (req.url ?? '/').split(/\?(.*)/s);
  const canonicalRequest = [
    (req.method ?? 'GET').toUpperCase(),
    canonicalPath(rawPath),
    canonicalQuery(rawQuery),
    ...signedHeaders.map((name) => `${name}:${(headers.get(name) ?? []).map((v) => v.trim().replace(/\s+/g, ' ')).join(',')}`),
    '',
    signedHeaders.join(';'),
    payloadHash,
  ].join('\n');
  const scope = `${day}/${region}/${service}/${terminator}`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  const key = [day, region, service, terminator].reduce<Buffer>((k, part) => hmac(k, part), Buffer.from(`AWS4${credentials.secretAccessKey}`));
  const expected = Buffer.from(hmac(key, stringToSign).toString('hex'));
  const given = Buffer.from(fields.get('Signature') as string);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    // API Gateway says what it expected, which is what makes a signing bug findable.
    return invalid(`${SIGNATURE_MISMATCH}\n\nThe Canonical String for this request should have been\n'${canonicalRequest}'\n\nThe String-to-Sign should have been\n'${stringToSign}'\n`);
  }
  return { accessKeyId };
}

/** SigV4's URI encoding: everything but `A-Z a-z 0-9 - _ . ~` as `%XX` (upper case). */
const uriEncode = (text: string) => encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** The path as received, `.` and `..` resolved and empty segments dropped, each segment URI-encoded (again: it arrived encoded). */
function canonicalPath(rawPath: string): string {
  const segments: string[] = [];
  for (const segment of rawPath.split('/')) {
    if (segment === '..') segments.pop();
    else if (segment !== '' && segment !== '.') segments.push(uriEncode(segment));
  }
  return `/${segments.join('/')}${segments.length > 0 && rawPath.endsWith('/') ? '/' : ''}`;
}

/** `name=value` pairs, decoded then URI-encoded, sorted by name then value. */
function canonicalQuery(rawQuery: string): string {
  const pairs = Object.entries(queryParameters(rawQuery)).flatMap(([name, values]) => (Array.isArray(values) ? values : [values]).map((value) => [uriEncode(name), uriEncode(value)]));
  return pairs
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
}

const sha256Hex = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: Buffer, data: string) => createHmac('sha256', key).update(data, 'utf8').digest();
