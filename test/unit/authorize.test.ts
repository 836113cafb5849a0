import type { APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { authorize, AuthorizeDeps, stageWide } from '../../lambdas/authorize/authorize';
import { sourceIdOf } from '../../lambdas/shared/domain/ingestion';
import { basicAuth } from '../support/http';
import { disabledMetrics, recordMetrics, silentLogger } from '../support/powertools';

const KEY = 'wk_live_1234';
const METHOD_ARN = 'arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/POST/v1/batch';

function setup(keys: () => Promise<boolean> | boolean = () => true) {
  const metrics = disabledMetrics();
  const recorded = recordMetrics(metrics);
  const checked: string[] = [];
  const deps: AuthorizeDeps = {
    keys: { matches: async (candidate) => (checked.push(candidate), (await keys()) && candidate === KEY) },
    usageKey: 'stack-write-usage-plan-123456789012',
    logger: silentLogger(),
    metrics,
  };
  const call = (headers: Record<string, string>) =>
    authorize({ type: 'REQUEST', methodArn: METHOD_ARN, headers } as unknown as APIGatewayRequestAuthorizerEvent, deps);
  return { call, checked, recorded };
}

describe('the key authorizer', () => {
  it('allows a known key (HTTP Basic user name) on every method of the stage, names its usage plan and passes the source id', async () => {
    const { call, recorded } = setup();
    const result = await call({ authorization: basicAuth(KEY) });
    expect(result).toEqual({
      principalId: sourceIdOf(KEY),
      policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: 'arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/*' }] },
      context: { sourceId: sourceIdOf(KEY) },
      usageIdentifierKey: 'stack-write-usage-plan-123456789012',
    });
    expect(recorded.get('KeysAccepted')).toBe(1);
  });

  it.each([
    ['an unknown key', { Authorization: basicAuth('wrong') }],
    ['the key as the password', { Authorization: basicAuth('user', KEY) }],
    ['a Bearer token', { Authorization: `Bearer ${KEY}` }],
    ['no Authorization header', {}],
    ['an empty Authorization header', { Authorization: '' }],
  ])('answers Unauthorized (API Gateway: 401) for %s', async (_label, headers: Record<string, string>) => {
    const { call, recorded } = setup();
    await expect(call(headers)).rejects.toThrow(/^Unauthorized$/);
    expect(recorded.get('KeysRejected')).toBe(1);
  });

  it('fails with the store error, not Unauthorized, when the keys cannot be read (API Gateway: 500, not cached)', async () => {
    const { call } = setup(() => Promise.reject(new Error('Secrets Manager unavailable')));
    await expect(call({ Authorization: basicAuth(KEY) })).rejects.toThrow('Secrets Manager unavailable');
  });

  it('builds the stage-wide resource from a method ARN, and refuses something else', () => {
    expect(stageWide('arn:aws-cn:execute-api:cn-north-1:123456789012:api/v2/GET/v1/recommendations')).toBe('arn:aws-cn:execute-api:cn-north-1:123456789012:api/v2/*');
    expect(() => stageWide('arn:aws:lambda:eu-west-1:123456789012:function:f')).toThrow(/Not a method ARN/);
  });
});
