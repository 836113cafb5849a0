import { createHash, timingSafeEqual } from 'node:crypto';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

/**
 * API credentials (the Segment write keys, the admin key) held in Secrets Manager.
 *
 * The secret is JSON: `{"key": "..."}` (what the stack generates) or `{"keys": ["new", "old"]}` while
 * rotating. Keys are cached for `cacheMs`, so a rotation takes effect within that time without a redeploy.
 */
export interface KeyStore {
  /** Whether `candidate` is one of the current keys (compared in constant time). */
  matches(candidate: string): Promise<boolean>;
}

export const KEY_CACHE_MS = 5 * 60_000;
/** After a failed refresh, the last known keys are served this long before Secrets Manager is tried again. */
export const KEY_RETRY_MS = 30_000;

export class SecretsManagerKeyStore implements KeyStore {
  private cached?: { digests: Buffer[]; refreshAt: number };

  constructor(
    private readonly client: SecretsManagerClient,
    private readonly secretId: string,
    private readonly cacheMs = KEY_CACHE_MS,
    private readonly now: () => number = Date.now,
  ) {}

  async matches(candidate: string): Promise<boolean> {
    const digests = await this.digests();
    const probe = digest(candidate);
    // Compare against every key (no early exit) so timing reveals nothing about which matched.
    return digests.reduce((found, d) => timingSafeEqual(d, probe) || found, false);
  }

  private async digests(): Promise<Buffer[]> {
    if (this.cached && this.now() < this.cached.refreshAt) return this.cached.digests;
    try {
      const out = await this.client.send(new GetSecretValueCommand({ SecretId: this.secretId }));
      this.cached = { digests: parseKeys(out.SecretString).map(digest), refreshAt: this.now() + this.cacheMs };
    } catch (error) {
      // Keep serving with the last known keys if Secrets Manager is unreachable, and do not make every
      // request wait for another failing call: try again after KEY_RETRY_MS.
      if (!this.cached) throw error;
      this.cached.refreshAt = this.now() + Math.min(KEY_RETRY_MS, this.cacheMs);
    }
    return this.cached.digests;
  }
}

/** Reads the keys out of a secret's JSON value. */
export function parseKeys(secretString: string | undefined): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(secretString ?? '');
  } catch {
    throw new Error('Credential secret must be JSON: {"key": "..."} or {"keys": ["...", "..."]}');
  }
  const { key, keys } = (parsed ?? {}) as { key?: unknown; keys?: unknown };
  const all = [...(typeof key === 'string' ? [key] : []), ...(Array.isArray(keys) ? keys.filter((k): k is string => typeof k === 'string') : [])];
  const usable = all.filter((k) => k.length > 0);
  if (usable.length === 0) throw new Error('Credential secret holds no key: expected {"key": "..."} or {"keys": ["...", "..."]}');
  return usable;
}

const digest = (value: string) => createHash('sha256').update(value).digest();
