// One Lambda function instance, in its own worker thread: its own module state and its own process.env
// (set by the host from the function's template environment). Runs the bundle esbuild built for Lambda.
'use strict';
const { parentPort, workerData } = require('node:worker_threads');

let handler;
let initError;
try {
  handler = require(workerData.modulePath)[workerData.handlerExport];
  if (typeof handler !== 'function') initError = new Error(`${workerData.modulePath} does not export a function "${workerData.handlerExport}"`);
} catch (error) {
  initError = error;
}

const serializeError = (error) => ({
  errorType: (error && error.name) || 'Error',
  errorMessage: (error && error.message) || String(error),
  stack: error && error.stack ? String(error.stack).split('\n') : [],
});

parentPort.on('message', async ({ requestId, event, deadline }) => {
  if (initError) return parentPort.postMessage({ requestId, error: { ...serializeError(initError), errorType: 'Runtime.ImportModuleError' } });
  const context = {
    functionName: workerData.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: workerData.functionArn,
    memoryLimitInMB: String(workerData.memoryMb),
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${workerData.functionName}`,
    logStreamName: 'local',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  try {
    const result = await handler(event, context);
    parentPort.postMessage({ requestId, result: result === undefined ? null : JSON.parse(JSON.stringify(result)) });
  } catch (error) {
    parentPort.postMessage({ requestId, error: serializeError(error) });
  }
});
