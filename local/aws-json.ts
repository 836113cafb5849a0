import { createServer, Server } from 'node:http';

/** Answers a call: the HTTP status and the JSON payload. */
export type Reply = (status: number, payload: object) => void;

/**
 * An HTTP server for a local stand-in of an AWS service spoken in the AWS JSON 1.1 protocol (Secrets Manager,
 * Firehose, EventBridge): `handle` gets the call's `X-Amz-Target` and its whole body, and answers through `reply`.
 */
export function awsJsonServer(handle: (target: string, body: Buffer, reply: Reply) => void): Server {
  return createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const reply: Reply = (status, payload) => {
        res.writeHead(status, { 'Content-Type': 'application/x-amz-json-1.1' });
        res.end(JSON.stringify(payload));
      };
      handle(String(req.headers['x-amz-target'] ?? ''), Buffer.concat(chunks), reply);
    });
  });
}
