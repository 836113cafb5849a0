import { createHmac } from 'node:crypto';
import { LogFormatter, LogItem } from '@aws-lambda-powertools/logger';
import type { LogAttributes, UnformattedAttributes } from '@aws-lambda-powertools/logger/types';
import { ENV } from './env';

/**
 * No personal data in logs. Every function's logger formats its lines with `PrivateLogFormatter`
 * (instrumentation.ts), so no log call has to take care:
 * - the value of every personal key (`PERSONAL_KEYS`: ids, contact details, traits, properties, context, consent,
 *   bodies and payloads, …), at any depth, becomes a pseudonym: `h:` and 16 hex digits of an HMAC-SHA256 keyed with
 *   the deployment's salt. The same id gives the same pseudonym in every line of every function, so one person's
 *   lines can still be followed (and an operator who holds the salt can compute the pseudonym of a given id to find
 *   them), but the id cannot be read back, nor found by hashing a list of likely emails without the salt. A person
 *   id keeps its kind: `user#jane` becomes `user#h:…`, with the pseudonym `jane` gets under `userId`. Objects
 *   under a personal key (traits, properties, context, a request) are dropped whole: `[redacted]`;
 * - every other string (messages, reasons, error messages and stacks, AWS errors' attributes) is scrubbed of what
 *   could carry input: quoted values (V8's JSON errors and AWS validation errors quote what they refused), email
 *   addresses and person ids (`user#…`, `anon#…`, `device#…`) become pseudonyms.
 * What is not personal stays readable: messageId, request, segment, item and erasure ids, sourceId, counts, and
 * reasons that name a field and a rule.
 *
 * The salt is `LOG_HASH_SALT`, one value per deployment set on every function by the house function construct.
 * Without it a fixed salt is used: pseudonyms still correlate and are not readable at a glance, but anyone with this
 * source could test guessed emails against them, so a deployment holding real people's data must set it.
 */

/** Keys whose values are personal, lowercased with everything but letters and digits removed (`device_id` → `deviceid`). */
export const PERSONAL_KEYS: ReadonlySet<string> = new Set([
  // Ids of a person (Segment's and this platform's), alone or in lists.
  'userid', 'anonymousid', 'previousid', 'groupid', 'deviceid', 'profileid', 'canonicalid', 'partitionkey',
  'ids', 'userids', 'anonymousids', 'deviceids', 'profileids', 'eventids', 'subject', 'person', 'identity',
  // Contact details.
  'email', 'phone', 'name', 'firstname', 'lastname', 'username', 'address', 'birthday',
  // What events and profiles say about a person.
  'traits', 'properties', 'context', 'consent', 'categorypreferences', 'profile', 'state', 'item', 'memberships',
  'ip', 'sourceip', 'clientip', 'useragent', 'location',
  // Raw input: request bodies, rejected payloads, record data, headers and credentials.
  'body', 'payload', 'data', 'text', 'headers', 'multivalueheaders', 'cookie', 'cookies', 'authorization', 'writekey',
]);

/** What an object under a personal key becomes. */
export const REDACTED = '[redacted]';

/** Used when `LOG_HASH_SALT` is not set (tests, the local runtime); see above. */
const FALLBACK_SALT = 'personalization-platform/log-pseudonyms/v1';

const PSEUDONYM = /^h:[0-9a-f]{16}$/;
const PERSON_ID = /^(user|anon|device)#([\s\S]*)$/;
/** A double-quoted string (escapes allowed), or a single-quoted one that is not an apostrophe inside a word. */
const QUOTED = /"((?:[^"\\\n]|\\.)*)"|(?<![\p{L}\p{N}])'([^'\n]*)'(?![\p{L}\p{N}])/gu;
const PERSON_ID_IN_TEXT = /\b(?:user|anon|device)#[^\s"',;()[\]{}]+/g;
const EMAIL = /[\p{L}\p{N}._%+-]+@[\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)+/gu;
/** Nesting a log line is walked to; deeper (or circular) values are not printed. */
const MAX_DEPTH = 16;

export const isPersonalKey = (key: string): boolean => PERSONAL_KEYS.has(key.toLowerCase().replace(/[^a-z0-9]/g, ''));

/** Powertools' standard JSON log line, with personal data pseudonymized (see above). */
export class PrivateLogFormatter extends LogFormatter {
  constructor(private readonly salt: string = process.env[ENV.logHashSalt] || FALLBACK_SALT) {
    super();
  }

  /** The attributes of Powertools' own formatter (`PowertoolsLogFormatter`, not exported), then the redacted rest. */
  override formatAttributes(attributes: UnformattedAttributes, additionalLogAttributes: LogAttributes): LogItem {
    const base: LogAttributes = {
      level: attributes.logLevel,
      message: this.scrub(attributes.message),
      timestamp: this.formatTimestamp(attributes.timestamp),
      service: attributes.serviceName,
      cold_start: attributes.lambdaContext?.coldStart,
      function_arn: attributes.lambdaContext?.invokedFunctionArn,
      function_memory_size: attributes.lambdaContext?.memoryLimitInMB,
      function_name: attributes.lambdaContext?.functionName,
      function_request_id: attributes.lambdaContext?.awsRequestId,
      sampling_rate: attributes.sampleRateValue,
      xray_trace_id: attributes.xRayTraceId,
      tenant_id: attributes.lambdaContext?.tenantId,
    };
    return new LogItem({ attributes: base }).addAttributes(this.redact(additionalLogAttributes) as LogAttributes);
  }

  /** Powertools' error shape (name, location, message, stack, cause, own attributes), scrubbed. */
  override formatError(error: Error): LogAttributes {
    return this.errorOf(error, []);
  }

  /** A value as it may be logged: personal keys pseudonymized or dropped, strings scrubbed. Never mutates `value`. */
  redact(value: unknown, personal = false, ancestors: object[] = []): unknown {
    if (value === null || value === undefined || typeof value === 'boolean') return value;
    if (typeof value === 'string') return personal ? this.pseudonym(value) : this.scrub(value);
    if (typeof value === 'number' || typeof value === 'bigint') return personal ? this.pseudonym(String(value)) : value;
    if (typeof value !== 'object') return personal ? REDACTED : value; // functions and symbols: JSON leaves them out
    if (ancestors.includes(value) || ancestors.length >= MAX_DEPTH) return '[circular or too deep]';
    const inside = [...ancestors, value];
    if (Array.isArray(value)) return value.map((element) => this.redact(element, personal, inside));
    if (personal) return REDACTED;
    if (value instanceof Error) return this.errorOf(value, inside);
    const json = (value as { toJSON?: () => unknown }).toJSON;
    if (typeof json === 'function') return this.redact(json.call(value), false, inside); // Date, Buffer
    return Object.fromEntries(Object.entries(value).map(([key, field]) => [key, this.redact(field, isPersonalKey(key), inside)]));
  }

  /** A text with quoted values, email addresses and person ids replaced by their pseudonyms. */
  scrub(text: string): string {
    return text
      .replace(QUOTED, (quoted, double: string | undefined, single: string | undefined) => {
        const inner = double ?? single ?? '';
        // Quoted punctuation is JSON's own syntax (`Expected ',' or '}'`), not input.
        if (!/[\p{L}\p{N}]/u.test(inner)) return quoted;
        const q = double !== undefined ? '"' : "'";
        return `${q}${this.pseudonym(inner)}${q}`;
      })
      .replace(PERSON_ID_IN_TEXT, (id) => this.pseudonym(id))
      .replace(EMAIL, (email) => this.pseudonym(email));
  }

  /** `h:` + 16 hex digits of HMAC-SHA256(salt, value); a person id keeps its kind (`user#h:…`). Idempotent. */
  pseudonym(value: string): string {
    if (PSEUDONYM.test(value)) return value;
    const personId = PERSON_ID.exec(value);
    if (personId) return `${personId[1]}#${this.pseudonym(personId[2])}`;
    return `h:${createHmac('sha256', this.salt).update(value).digest('hex').slice(0, 16)}`;
  }

  /**
   * Scrubs a thrown error's message and stack in place: the Lambda runtime logs what a handler throws
   * (`Invoke Error`) itself, past any formatter. The error keeps its class and its clean messages (`Unauthorized`).
   */
  scrubThrown(error: unknown): void {
    if (!(error instanceof Error)) return;
    const message = this.scrub(error.message);
    if (message !== error.message) error.message = message;
    if (typeof error.stack === 'string') error.stack = this.scrub(error.stack);
  }

  private errorOf(error: Error, ancestors: object[]): LogAttributes {
    const inside = [...ancestors, error];
    const formatted: LogAttributes = {
      name: error.name,
      location: this.getCodeLocation(error.stack),
      message: this.scrub(error.message),
      stack: typeof error.stack === 'string' ? this.scrub(error.stack) : error.stack,
      cause: this.redact(error.cause, false, inside),
    };
    // Like Powertools: every other enumerable attribute (AWS SDK errors carry `$metadata`, DynamoDB's may carry an `Item`).
    for (const key in error) {
      if (!['name', 'message', 'stack', 'cause'].includes(key)) formatted[key] = this.redact((error as unknown as Record<string, unknown>)[key], isPersonalKey(key), inside);
    }
    return formatted;
  }
}
