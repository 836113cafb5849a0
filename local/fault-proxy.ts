import { randomUUID } from 'node:crypto';
import { Agent, createServer, IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, request as httpRequest, Server, ServerResponse } from 'node:http';
import { buffer } from 'node:stream/consumers';
import { pipeline } from 'node:stream/promises';
import { listen } from './emulators';
import { LOCAL_ACCOUNT } from './template-model';

/**
 * A fault-injecting HTTP proxy between AWS SDK v3 clients and an emulator (dynalite or kinesalite), for tests that
 * show nothing is lost or double-counted when DynamoDB throttles or fails and Kinesis fails part of a PutRecords.
 *
 * A rule, settable at any time, sees each call's operation and parsed body and picks a fault, or none to forward the
 * call as it came. Faults are answered the way the service answers them, as AWS JSON errors the SDK parses and
 * classifies (throttling and 500s are retried, other 400s are not), or made at the connection: reset before the call
 * reaches the emulator, or after the emulator applied it and before the caller hears so. For rules that fail at
 * random yet the same on every run, draw from `mulberry32` (random.ts):
 * `const random = mulberry32(7); proxy.rule = () => (random() < 0.2 ? { kind: 'throttle' } : undefined);`
 *
 * The emulators do not verify SigV4 signatures, so the proxy can rewrite `host` and, for 'partial', the body.
 */

/** A call as the rule sees it. */
export interface FaultRequest {
  /** The operation, from `X-Amz-Target` after the dot: 'UpdateItem', 'PutItem', 'BatchWriteItem', 'PutRecords', … */
  operation: string;
  /** The call's JSON body, parsed (undefined when it is not JSON). A copy: changing it changes nothing. */
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** What happens to a call instead of being forwarded as it came. */
export type Fault =
  /** The service's throttling error (400 ProvisionedThroughputExceededException), not forwarded. */
  | { kind: 'throttle' }
  /** An outage: 500 InternalServerError (DynamoDB) or InternalFailure (Kinesis), not forwarded. */
  | { kind: 'unavailable' }
  /** The connection is reset before the call reaches the service: not forwarded, no answer. */
  | { kind: 'reset' }
  /** The call is forwarded and applied, then the connection is reset instead of answering: the ack is lost, so the caller retries what already happened. */
  | { kind: 'lose-response' }
  /** A non-retryable 400 with this `__type` (short name, e.g. 'ValidationException') and message, not forwarded. */
  | { kind: 'reject'; type: string; message: string }
  /**
   * PutRecords only: the entries for which `fail(index)` is true are refused as Kinesis refuses a throttled record
   * (ErrorCode ProvisionedThroughputExceededException) and not forwarded; the others go to the emulator in one
   * PutRecords, and the answer merges both in the call's order. When every entry fails, nothing is forwarded.
   */
  | { kind: 'partial'; fail: (index: number) => boolean };

/** Picks the fault for a call, or none (undefined) to forward it. */
export type FaultRule = (request: FaultRequest) => Fault | undefined;

export type FaultService = 'dynamodb' | 'kinesis';

export interface FaultProxyOptions {
  /**
   * Told of what the proxy absorbed instead of failing: a rule that threw or gave a fault that does not fit the call
   * (the call is forwarded as it came), an emulator it could not reach or whose answer it could not read (the call is
   * answered 502, or its connection dropped when the answer had begun).
   */
  onError?: (error: unknown) => void;
}

export interface FaultStats {
  /** Calls the emulator answered: forwarded as they came, 'lose-response' calls, and 'partial' calls with entries left to put. */
  forwarded: number;
  /** Faults injected, by kind. */
  injected: Record<Fault['kind'], number>;
  /** PutRecords entries refused by 'partial' faults. */
  failedEntries: number;
}

/** The rule's fault for one call, with 'partial' resolved to which entries fail. */
type Decision = Exclude<Fault, { kind: 'partial' }> | { kind: 'partial'; failed: boolean[] };

/** An error as a service answers it: its `__type` short name and its message. */
interface ServiceError {
  type: string;
  message: string;
}

/** How a service writes its errors. */
interface Dialect {
  /** The AWS JSON protocol's content type: 1.0 for DynamoDB, 1.1 for Kinesis. */
  contentType: string;
  /** An error's `__type` as the service writes it: DynamoDB qualifies it with its namespace, Kinesis does not. */
  qualify(type: string): string;
  throttle(request: FaultRequest): ServiceError;
  unavailable: ServiceError;
}

const DIALECTS: Record<FaultService, Dialect> = {
  dynamodb: {
    contentType: 'application/x-amz-json-1.0',
    qualify: (type) => `com.amazonaws.dynamodb.v20120810#${type}`,
    throttle: () => ({
      type: 'ProvisionedThroughputExceededException',
      message: 'The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.',
    }),
    unavailable: { type: 'InternalServerError', message: 'Internal server error' },
  },
  kinesis: {
    contentType: 'application/x-amz-json-1.1',
    qualify: (type) => type,
    throttle: (request) => ({ type: 'ProvisionedThroughputExceededException', message: `Rate exceeded for stream ${streamNameOf(request.body)} under account ${LOCAL_ACCOUNT}.` }),
    unavailable: { type: 'InternalFailure', message: 'Internal service failure.' },
  },
};

/**
 * The shard named in a refused entry's message. Kinesis names the entry's own shard; finding it would take the
 * stream's hash key ranges, and nothing reads the message but people.
 */
const NOMINAL_SHARD = 'shardId-000000000000';

/** Headers that belong to one connection, not to the call: never passed on. */
const HOP_BY_HOP = ['connection', 'keep-alive', 'transfer-encoding'];

export class FaultProxy {
  /** The rule consulted on every call; undefined forwards everything. Settable at any time. */
  rule: FaultRule | undefined;
  readonly stats: FaultStats = {
    forwarded: 0,
    injected: { throttle: 0, unavailable: 0, reset: 0, 'lose-response': 0, reject: 0, partial: 0 },
    failedEntries: 0,
  };
  private readonly target: URL;
  private readonly dialect: Dialect;
  private readonly agent = new Agent({ keepAlive: true });
  private readonly server: Server;

  /** `target` is the emulator's URL (e.g. http://127.0.0.1:4567); `service` is what it emulates, for its error dialect. */
  constructor(
    target: string,
    service: FaultService,
    private readonly options: FaultProxyOptions = {},
  ) {
    this.target = new URL(target);
    this.dialect = DIALECTS[service];
    this.server = createServer((req, res) => this.serve(req, res));
  }

  /** Listens on a free loopback port; resolves with the proxy's URL, the endpoint to give the SDK client. */
  start(): Promise<string> {
    return listen(this.server);
  }

  /** Stops listening and drops every connection, the callers' and the emulator's. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    this.agent.destroy();
    await closed;
  }

  /** Reads the whole call, then answers it; whatever goes wrong is reported and ends the call, never the process. */
  private serve(req: IncomingMessage, res: ServerResponse): void {
    buffer(req)
      .then((body) => this.answer(req, body, res))
      .catch((error: unknown) => {
        this.options.onError?.(error);
        if (res.headersSent) res.destroy();
        else this.sendError(res, 502, { type: 'BadGateway', message: `The fault proxy got no answer it could pass on from ${this.target.origin}: ${String(error)}` });
      });
  }

  /** Forwards the call as it came, or makes the rule's fault. */
  private async answer(req: IncomingMessage, body: Buffer, res: ServerResponse): Promise<void> {
    const request: FaultRequest = { operation: operationOf(req), body: parseJson(body) };
    const decision = this.decide(request);
    if (!decision) return pass(await this.forward(req, body), res);
    this.stats.injected[decision.kind]++;
    switch (decision.kind) {
      case 'throttle':
        return this.sendError(res, 400, this.dialect.throttle(request));
      case 'unavailable':
        return this.sendError(res, 500, this.dialect.unavailable);
      case 'reject':
        return this.sendError(res, 400, decision);
      case 'reset':
        return reset(res);
      case 'lose-response':
        await buffer(await this.forward(req, body)); // the emulator has answered: the call is applied
        return reset(res);
      case 'partial':
        return this.putPartially(req, parseJson(body), decision.failed, res); // parsed afresh: the rule may have changed its copy
    }
  }

  /** The rule's fault for `request`, or none: a rule that throws, or gives a fault that does not fit the call, forwards it. */
  private decide(request: FaultRequest): Decision | undefined {
    try {
      const fault = this.rule?.(request);
      if (fault?.kind !== 'partial') return fault;
      const records: unknown = request.operation === 'PutRecords' ? request.body?.Records : undefined;
      if (!Array.isArray(records)) throw new Error(`A 'partial' fault needs a PutRecords call with Records, not ${request.operation}`);
      return { kind: 'partial', failed: records.map((_, i) => fault.fail(i)) };
    } catch (error) {
      this.options.onError?.(error);
      return undefined;
    }
  }

  /**
   * PutRecords with the `failed` entries refused as Kinesis refuses a throttled record and the others put on the
   * emulator in one call, the results merged back in the caller's order. A whole-call error from the emulator is
   * passed on as it is: then nothing was put.
   */
  private async putPartially(req: IncomingMessage, call: { StreamName?: unknown; StreamARN?: unknown; Records: unknown[] }, failed: boolean[], res: ServerResponse): Promise<void> {
    const refused = {
      ErrorCode: 'ProvisionedThroughputExceededException',
      ErrorMessage: `Rate exceeded for shard ${NOMINAL_SHARD} in stream ${streamNameOf(call)} under account ${LOCAL_ACCOUNT}.`,
    };
    const kept = call.Records.filter((_, i) => !failed[i]);
    const refusedCount = call.Records.length - kept.length;
    this.stats.failedEntries += refusedCount;
    if (kept.length === 0) {
      return sendJson(res, 200, { FailedRecordCount: refusedCount, Records: failed.map(() => refused) }, this.ownHeaders());
    }
    const upstream = await this.forward(req, Buffer.from(JSON.stringify({ ...call, Records: kept })));
    const answer = await buffer(upstream);
    const { 'content-length': _length, ...headers } = endToEnd(upstream.headers);
    if (upstream.statusCode !== 200) return respond(res, upstream.statusCode ?? 502, headers, answer);
    const put = JSON.parse(answer.toString('utf8')) as { FailedRecordCount: number; Records: unknown[] };
    let next = 0;
    const records = failed.map((fails) => (fails ? refused : put.Records[next++]));
    sendJson(res, 200, { ...put, FailedRecordCount: put.FailedRecordCount + refusedCount, Records: records }, headers);
  }

  /** Sends the call on to the emulator as it came (method, path, headers) with `body`; resolves with the emulator's answer. */
  private forward(req: IncomingMessage, body: Buffer): Promise<IncomingMessage> {
    const headers = { ...endToEnd(req.headers), host: this.target.host, 'content-length': String(body.length) };
    return new Promise((resolve, reject) => {
      const call = httpRequest(this.target, { method: req.method, path: req.url, headers, agent: this.agent }, (upstream) => {
        this.stats.forwarded++;
        resolve(upstream);
      });
      call.on('error', reject).end(body);
    });
  }

  /** Answers with an error as the service writes it: its `__type` in the body and in `x-amzn-ErrorType`. */
  private sendError(res: ServerResponse, status: number, { type, message }: ServiceError): void {
    sendJson(res, status, { __type: this.dialect.qualify(type), message }, { ...this.ownHeaders(), 'x-amzn-ErrorType': type });
  }

  /** The headers of an answer the proxy makes itself: the protocol's content type and a request id, as every AWS answer has. */
  private ownHeaders(): OutgoingHttpHeaders {
    return { 'Content-Type': this.dialect.contentType, 'x-amzn-RequestId': randomUUID() };
  }
}

/** The operation of an AWS JSON call: `X-Amz-Target` after the dot (`DynamoDB_20120810.UpdateItem` → `UpdateItem`). */
function operationOf(req: IncomingMessage): string {
  const target = req.headers['x-amz-target'];
  return typeof target === 'string' ? target.slice(target.indexOf('.') + 1) : '';
}

function parseJson(body: Buffer): any { // eslint-disable-line @typescript-eslint/no-explicit-any
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** The stream a Kinesis call names, by `StreamName` or by `StreamARN` (…:stream/name). */
function streamNameOf(body: { StreamName?: unknown; StreamARN?: unknown } | undefined): string {
  return typeof body?.StreamName === 'string' ? body.StreamName : String(body?.StreamARN ?? '').replace(/^.*\//, '');
}

/** Streams the emulator's answer back as it is: status, headers and body. */
function pass(upstream: IncomingMessage, res: ServerResponse): Promise<void> {
  res.writeHead(upstream.statusCode ?? 502, endToEnd(upstream.headers));
  return pipeline(upstream, res);
}

/** Ends a call as a connection reset: a TCP RST and no answer, which the caller's HTTP client reports as ECONNRESET. */
function reset(res: ServerResponse): void {
  res.socket?.resetAndDestroy();
}

function sendJson(res: ServerResponse, status: number, payload: object, headers: OutgoingHttpHeaders): void {
  respond(res, status, headers, Buffer.from(JSON.stringify(payload)));
}

/** Answers with `body`, whole; `headers` must not have a content length of their own. */
function respond(res: ServerResponse, status: number, headers: OutgoingHttpHeaders, body: Buffer): void {
  res.writeHead(status, { ...headers, 'Content-Length': body.length });
  res.end(body);
}

/** `headers` without the hop-by-hop ones: what is passed on between the caller and the emulator. */
function endToEnd(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.includes(name)));
}
