import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { LOCAL_ACCOUNT, LOCAL_REGION, LocalFunction } from './template-model';

export interface LambdaError {
  errorType: string;
  errorMessage: string;
  stack?: string[];
}

/** The outcome of one invocation: the handler's result, or its error (a timeout is an error too). */
export type InvokeOutcome = { ok: true; result: unknown } | { ok: false; error: LambdaError };

interface Pending {
  resolve: (outcome: InvokeOutcome) => void;
  timer: NodeJS.Timeout;
}

interface Instance {
  worker: Worker;
  pending: Map<string, Pending>;
}

/**
 * Runs the functions of the template the way Lambda does, each in its own worker thread: its own module
 * state, its own `process.env` (the template environment plus the endpoints of the emulators), the bundle
 * built for Lambda, the function's timeout. A timed-out or crashed instance is discarded and the next
 * invocation starts a fresh one (a cold start). Unlike Lambda, one instance serves concurrent invocations.
 */
export class LambdaHost {
  private readonly functions: Map<string, LocalFunction>;
  private readonly instances = new Map<string, Instance>();
  private readonly standIns = new Map<string, (event: unknown) => Promise<unknown>>();

  constructor(
    functions: LocalFunction[],
    /** Environment every function gets on top of its own (region, credentials, endpoints). */
    private readonly baseEnvironment: Record<string, string>,
  ) {
    this.functions = new Map(functions.map((fn) => [fn.logicalId, fn]));
  }

  /** The environment a function sees. */
  environmentOf(functionId: string): Record<string, string> {
    const fn = this.lookup(functionId);
    return {
      ...this.baseEnvironment,
      ...fn.environment,
      AWS_LAMBDA_FUNCTION_NAME: fn.name,
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memoryMb),
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      _HANDLER: `${path.basename(fn.modulePath, '.js')}.${fn.handlerExport}`,
    };
  }

  /**
   * Runs `handler` in-process instead of the function's bundle: for a function that calls AWS services with no
   * local emulator (Athena and S3, for erasure and export), `handler` is its same code wired to local stand-ins
   * of those services. Its errors are reported as the function's.
   */
  standIn(functionId: string, handler: (event: unknown) => Promise<unknown>): void {
    this.lookup(functionId);
    this.standIns.set(functionId, handler);
  }

  invoke(functionId: string, event: unknown): Promise<InvokeOutcome> {
    const standIn = this.standIns.get(functionId);
    if (standIn) {
      return standIn(event).then(
        (result): InvokeOutcome => ({ ok: true, result }),
        (error: Error): InvokeOutcome => ({ ok: false, error: { errorType: error.name, errorMessage: error.message } }),
      );
    }
    const fn = this.lookup(functionId);
    const instance = this.instances.get(functionId) ?? this.start(fn);
    const requestId = randomUUID();
    const timeoutMs = fn.timeoutSeconds * 1000;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.discard(functionId, { errorType: 'Sandbox.Timedout', errorMessage: `Task timed out after ${fn.timeoutSeconds.toFixed(2)} seconds` });
      }, timeoutMs);
      instance.pending.set(requestId, { resolve, timer });
      instance.worker.postMessage({ requestId, event, deadline: Date.now() + timeoutMs });
    });
  }

  async close(): Promise<void> {
    const ids = [...this.instances.keys()];
    await Promise.all(ids.map((id) => this.discard(id, { errorType: 'Runtime.Shutdown', errorMessage: 'The local runtime is shutting down' })));
  }

  private lookup(functionId: string): LocalFunction {
    const fn = this.functions.get(functionId);
    if (!fn) throw new Error(`No function ${functionId} in the template`);
    return fn;
  }

  private start(fn: LocalFunction): Instance {
    const worker = new Worker(path.join(__dirname, 'lambda-worker.cjs'), {
      env: this.environmentOf(fn.logicalId),
      execArgv: ['--enable-source-maps'],
      workerData: {
        modulePath: fn.modulePath,
        handlerExport: fn.handlerExport,
        functionName: fn.name,
        functionArn: `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${fn.name}`,
        memoryMb: fn.memoryMb,
      },
    });
    const instance: Instance = { worker, pending: new Map() };
    worker.on('message', ({ requestId, result, error }) => {
      const pending = instance.pending.get(requestId);
      if (!pending) return;
      clearTimeout(pending.timer);
      instance.pending.delete(requestId);
      pending.resolve(error ? { ok: false, error } : { ok: true, result });
    });
    // An exception escaping the handler's promise chain kills the instance, as it does in Lambda.
    worker.on('error', (error) => void this.discard(fn.logicalId, { errorType: 'Runtime.UnhandledError', errorMessage: error.message }, instance));
    worker.on('exit', () => void this.discard(fn.logicalId, { errorType: 'Runtime.ExitError', errorMessage: 'The function instance exited' }, instance));
    this.instances.set(fn.logicalId, instance);
    return instance;
  }

  /** Ends an instance, failing whatever it was still running with `error`. */
  private async discard(functionId: string, error: LambdaError, only?: Instance): Promise<void> {
    const instance = this.instances.get(functionId);
    if (!instance || (only && instance !== only)) return;
    this.instances.delete(functionId);
    for (const pending of instance.pending.values()) {
      clearTimeout(pending.timer);
      pending.resolve({ ok: false, error });
    }
    instance.pending.clear();
    await instance.worker.terminate();
  }
}
