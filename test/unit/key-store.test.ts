import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { KEY_CACHE_MS, parseKeys, SecretsManagerKeyStore } from '../../lambdas/shared/store/key-store';

/** A fake Secrets Manager: returns `secret` (or throws it) for GetSecretValue and records the calls. */
class FakeSecrets {
  readonly calls: Array<{ command: string; input: unknown }> = [];
  constructor(public secret: string | Error) {}
  async send(command: { constructor: { name: string }; input: unknown }) {
    this.calls.push({ command: command.constructor.name, input: command.input });
    if (this.secret instanceof Error) throw this.secret;
    return { SecretString: this.secret };
  }
  asClient = () => this as unknown as SecretsManagerClient;
}

describe('parseKeys', () => {
  it('reads {"key": ...} and {"keys": [...]}, in order', () => {
    expect(parseKeys('{"key":"k1"}')).toEqual(['k1']);
    expect(parseKeys('{"keys":["new","old"]}')).toEqual(['new', 'old']);
    expect(parseKeys('{"key":"k1","keys":["k2"]}')).toEqual(['k1', 'k2']);
  });

  it('ignores empty and non-string keys', () => {
    expect(parseKeys('{"key":"","keys":["",3,null,"k"]}')).toEqual(['k']);
  });

  it.each([undefined, '', 'not json', '{"key":'])('refuses %j as not JSON', (secret) => {
    expect(() => parseKeys(secret)).toThrow('Credential secret must be JSON');
  });

  it.each(['{}', 'null', '[]', '"k"', '42', '{"key":""}', '{"keys":[]}', '{"keys":"k"}', '{"Key":"k"}'])('refuses %s as holding no key', (secret) => {
    expect(() => parseKeys(secret)).toThrow('Credential secret holds no key');
  });
});

describe('SecretsManagerKeyStore', () => {
  function setup(secret: string | Error = '{"key":"k1"}', cacheMs = 60_000) {
    const fake = new FakeSecrets(secret);
    let now = 1_000_000;
    const store = new SecretsManagerKeyStore(fake.asClient(), 'arn:secret:write-keys', cacheMs, () => now);
    return { fake, store, advance: (ms: number) => (now += ms) };
  }

  it('matches the current key and nothing else', async () => {
    const { store, fake } = setup();
    expect(await store.matches('k1')).toBe(true);
    expect(await store.matches('k2')).toBe(false);
    expect(await store.matches('')).toBe(false);
    expect(await store.matches('k1 ')).toBe(false);
    expect(fake.calls[0]).toEqual({ command: 'GetSecretValueCommand', input: { SecretId: 'arn:secret:write-keys' } });
  });

  it('matches every key of a rotation list', async () => {
    const { store } = setup('{"keys":["new","old"]}');
    expect(await store.matches('new')).toBe(true);
    expect(await store.matches('old')).toBe(true);
    expect(await store.matches('older')).toBe(false);
  });

  it('caches the keys for cacheMs, then fetches them again', async () => {
    const { store, fake, advance } = setup('{"key":"k1"}', 60_000);
    await store.matches('k1');
    advance(59_999);
    await store.matches('k1');
    await store.matches('x');
    expect(fake.calls).toHaveLength(1);
    advance(1);
    await store.matches('k1');
    expect(fake.calls).toHaveLength(2);
  });

  it('picks up a rotated key once the cache has expired', async () => {
    const { store, fake, advance } = setup('{"key":"old"}');
    expect(await store.matches('new')).toBe(false);
    fake.secret = '{"keys":["new","old"]}';
    expect(await store.matches('new')).toBe(false); // still cached
    advance(60_000);
    expect(await store.matches('new')).toBe(true);
    fake.secret = '{"key":"new"}';
    advance(60_000);
    expect(await store.matches('old')).toBe(false);
  });

  it('keeps serving the last known keys when a refresh fails', async () => {
    const { store, fake, advance } = setup();
    expect(await store.matches('k1')).toBe(true);
    fake.secret = new Error('Secrets Manager unreachable');
    advance(120_000);
    expect(await store.matches('k1')).toBe(true);
    expect(await store.matches('k2')).toBe(false);
    fake.secret = '{"key":"k1"}';
    expect(await store.matches('k1')).toBe(true);
  });

  it('does not call a failing Secrets Manager on every request: it tries again after 30 seconds', async () => {
    const { store, fake, advance } = setup();
    await store.matches('k1');
    fake.secret = new Error('Secrets Manager unreachable');
    advance(120_000);
    await store.matches('k1');
    const callsAfterFailure = fake.calls.length;
    for (let i = 0; i < 10; i++) expect(await store.matches('k1')).toBe(true);
    expect(fake.calls.length).toBe(callsAfterFailure);
    advance(30_000);
    await store.matches('k1');
    expect(fake.calls.length).toBe(callsAfterFailure + 1);
  });

  it('keeps serving the last known keys when the refreshed secret is malformed', async () => {
    const { store, fake, advance } = setup();
    await store.matches('k1');
    fake.secret = '{"key":';
    advance(120_000);
    expect(await store.matches('k1')).toBe(true);
  });

  it('throws when it has never been able to read the keys', async () => {
    const { store } = setup(new Error('AccessDeniedException'));
    await expect(store.matches('k1')).rejects.toThrow('AccessDeniedException');
  });

  it('caches for five minutes by default', () => {
    expect(KEY_CACHE_MS).toBe(300_000);
  });
});
