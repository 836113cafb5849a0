import { Match } from 'aws-cdk-lib/assertions';
import { ENV } from '../../lambdas/shared/env';
import { synth } from '../support/synth';

/** Who may call what, as the template says: every method's authorization, the authorizers, usage plans, the admin policy and WAF. */

const { stack, template } = synth();
const resources = (type: string) => template.findResources(type);
const logicalIdOf = (construct: { node: { defaultChild?: unknown } }) => stack.getLogicalId(construct.node.defaultChild as never);

/** Every method as `METHOD /path` with its authorization type and authorizer logical id. */
function methods(t = template) {
  const apiResources = t.findResources('AWS::ApiGateway::Resource');
  const pathOf = (ref: any): string => (ref.Ref ? `${pathOf(apiResources[ref.Ref].Properties.ParentId)}/${apiResources[ref.Ref].Properties.PathPart}` : '');
  return Object.entries(t.findResources('AWS::ApiGateway::Method')).map(([id, m]) => ({
    id,
    route: `${m.Properties.HttpMethod} ${pathOf(m.Properties.ResourceId)}`,
    auth: m.Properties.AuthorizationType as string,
    authorizer: m.Properties.AuthorizerId?.Ref as string | undefined,
    apiKeyRequired: m.Properties.ApiKeyRequired === true,
  }));
}
const routesWith = (predicate: (m: ReturnType<typeof methods>[number]) => boolean) => methods().filter(predicate).map((m) => m.route).sort();

const ADMIN_ROUTES = [
  'DELETE /v1/items/{itemId}',
  'DELETE /v1/profiles/{userId}',
  'DELETE /v1/segments/{segmentId}',
  'GET /v1/erasures/{erasureId}',
  'GET /v1/profiles/{userId}',
  'GET /v1/profiles/{userId}/export',
  'GET /v1/segments',
  'GET /v1/segments/{segmentId}',
  'POST /v1/segments',
  'PUT /v1/items',
  'PUT /v1/profiles/{userId}/consent',
  'PUT /v1/segments/{segmentId}',
];

describe('API authorization', () => {
  const writeAuthorizer = logicalIdOf(stack.api.writeAuthorizer.authorizer as never);
  const readAuthorizer = logicalIdOf(stack.api.readAuthorizer.authorizer as never);

  it('puts every admin route behind IAM, and nothing else', () => {
    expect(routesWith((m) => m.auth === 'AWS_IAM')).toEqual(ADMIN_ROUTES);
  });

  it('checks the write key with its authorizer on the full-name ingestion routes, which need a usage plan', () => {
    const full = ['alias', 'batch', 'group', 'identify', 'page', 'screen', 'track'].map((r) => `POST /v1/${r}`);
    expect(routesWith((m) => m.authorizer === writeAuthorizer)).toEqual(full);
    expect(methods().filter((m) => m.authorizer === writeAuthorizer).every((m) => m.auth === 'CUSTOM' && m.apiKeyRequired)).toBe(true);
  });

  it('checks the read key with its own authorizer on recommendations', () => {
    expect(routesWith((m) => m.authorizer === readAuthorizer)).toEqual(['GET /v1/recommendations']);
  });

  it('leaves open only CORS preflights and the one-letter routes of analytics.js (key in the body, checked by the function)', () => {
    const open = methods().filter((m) => m.auth === 'NONE' || m.auth === undefined);
    expect(open.filter((m) => !m.route.startsWith('OPTIONS ')).map((m) => m.route).sort()).toEqual(['a', 'b', 'g', 'i', 'p', 's', 't'].map((r) => `POST /v1/${r}`));
    // The function the one-letter routes reach checks the write key itself.
    const ingest = resources('AWS::Lambda::Function')[logicalIdOf(stack.ingestion.function.fn)];
    expect(ingest.Properties.Environment.Variables[ENV.writeKeySecret]).toEqual({ Ref: logicalIdOf(stack.credentials.writeKey) });
  });

  it('caches each authorizer answer per Authorization header for five minutes, each authorizer reading only its own secret', () => {
    const authorizers = resources('AWS::ApiGateway::Authorizer');
    expect(Object.keys(authorizers).sort()).toEqual([readAuthorizer, writeAuthorizer].sort());
    for (const a of Object.values(authorizers)) {
      expect(a.Properties).toMatchObject({ Type: 'REQUEST', IdentitySource: 'method.request.header.Authorization', AuthorizerResultTtlInSeconds: 300 });
    }
    const fns = resources('AWS::Lambda::Function');
    const envOf = (authorizer: typeof stack.api.writeAuthorizer) => fns[logicalIdOf(authorizer.function.fn)].Properties.Environment.Variables;
    expect(envOf(stack.api.writeAuthorizer)[ENV.keySecret]).toEqual({ Ref: logicalIdOf(stack.credentials.writeKey) });
    expect(envOf(stack.api.readAuthorizer)[ENV.keySecret]).toEqual({ Ref: logicalIdOf(stack.credentials.readKey) });
    expect(envOf(stack.api.writeAuthorizer)[ENV.credential]).toBe('write');
    expect(envOf(stack.api.readAuthorizer)[ENV.credential]).toBe('read');
  });

  it('takes usage plan keys only from the authorizers, one plan per credential with its own limits', () => {
    template.hasResourceProperties('AWS::ApiGateway::RestApi', { ApiKeySourceType: 'AUTHORIZER' });
    const plans = Object.values(resources('AWS::ApiGateway::UsagePlan')).map((p) => p.Properties.Throttle);
    expect(plans).toEqual(expect.arrayContaining([{ RateLimit: 1000, BurstLimit: 2000 }, { RateLimit: 500, BurstLimit: 1000 }]));
    expect(plans).toHaveLength(2);
    // The authorizer names the API key of its own plan.
    const fns = resources('AWS::Lambda::Function');
    const keys = resources('AWS::ApiGateway::ApiKey');
    for (const authorizer of [stack.api.writeAuthorizer, stack.api.readAuthorizer]) {
      const usageKey = fns[logicalIdOf(authorizer.function.fn)].Properties.Environment.Variables[ENV.usageKey];
      expect(Object.values(keys).filter((k) => JSON.stringify(k.Properties.Value) === JSON.stringify(usageKey))).toHaveLength(1);
    }
    const quota = synth({ writeKeyDailyQuota: '5000000', readKeyRateLimit: '50' }).template;
    quota.hasResourceProperties('AWS::ApiGateway::UsagePlan', { Quota: { Limit: 5_000_000, Period: 'DAY' } });
    quota.hasResourceProperties('AWS::ApiGateway::UsagePlan', { Throttle: { RateLimit: 50, BurstLimit: 1000 } });
  });

  it('answers 401 with a Basic challenge and a reason, and lets browsers read every refusal', () => {
    template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      ResponseType: 'UNAUTHORIZED',
      StatusCode: '401',
      ResponseParameters: Match.objectLike({ 'gatewayresponse.header.WWW-Authenticate': `'Basic realm="personalization"'`, 'gatewayresponse.header.Access-Control-Allow-Origin': "'*'" }),
      ResponseTemplates: { 'application/json': Match.stringLikeRegexp('"success":false,"message":"Missing or invalid key') },
    });
    for (const type of ['DEFAULT_4XX', 'DEFAULT_5XX']) {
      template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', { ResponseType: type, ResponseParameters: { 'gatewayresponse.header.Access-Control-Allow-Origin': "'*'" } });
    }
  });

  it('offers one managed policy that may invoke exactly the admin routes of the stage', () => {
    const policy = resources('AWS::IAM::ManagedPolicy')[logicalIdOf(stack.api.adminPolicy as never)];
    const [statement, ...others] = policy.Properties.PolicyDocument.Statement;
    expect(others).toEqual([]);
    expect(statement.Action).toBe('execute-api:Invoke');
    // arn:…:execute-api:region:account:api/<stage>/<METHOD><path>, one per admin route
    const granted = statement.Resource.map((r: any) => {
      const parts = r['Fn::Join'][1];
      return String(parts[parts.length - 1]).replace(/^\/prod\//, '').replace(/^(\w+)/, '$1 ');
    });
    expect(granted.sort()).toEqual(ADMIN_ROUTES);
  });

  it('has no WAF by default; with wafEnabled, a regional web ACL with a per-IP rate rule is on the stage', () => {
    expect(Object.keys(resources('AWS::WAFv2::WebACL'))).toHaveLength(0);
    const waf = synth({ wafEnabled: 'true', wafRateLimit: '3000' });
    waf.template.hasResourceProperties('AWS::WAFv2::WebACL', {
      Scope: 'REGIONAL',
      DefaultAction: { Allow: {} },
      Rules: Match.arrayWith([Match.objectLike({ Name: 'RateLimitPerIp', Action: { Block: {} }, Statement: { RateBasedStatement: { Limit: 3000, AggregateKeyType: 'IP', EvaluationWindowSec: 300 } } })]),
    });
    const stageId = waf.stack.getLogicalId(waf.stack.api.restApi.deploymentStage.node.defaultChild as never);
    waf.template.hasResourceProperties('AWS::WAFv2::WebACLAssociation', { ResourceArn: Match.anyValue() });
    expect(JSON.stringify(waf.template.findResources('AWS::WAFv2::WebACLAssociation'))).toContain(stageId);
    expect(() => synth({ wafRateLimit: '5' })).toThrow('wafRateLimit');
  });
});
