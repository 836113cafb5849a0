// The DynamoDB emulator (in memory) behind a proxy that counts item writes (PutItem, UpdateItem, DeleteItem,
// and each item of a BatchWriteItem), both in a process of their own so that a benchmark's CPU figures are
// the code under test's. Sends its URL to the parent; answers {count: true} with the writes so far.
'use strict';
const { createServer, request } = require('node:http');
const dynalite = require('dynalite');

const emulator = dynalite({ createTableMs: 0, deleteTableMs: 0 });
let writes = 0;
const proxy = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const action = String(req.headers['x-amz-target'] || '').split('.').pop();
    if (action === 'PutItem' || action === 'UpdateItem' || action === 'DeleteItem') writes += 1;
    if (action === 'BatchWriteItem') for (const items of Object.values(JSON.parse(body.toString()).RequestItems)) writes += items.length;
    const upstream = request({ host: '127.0.0.1', port: emulator.address().port, method: req.method, path: req.url, headers: req.headers }, (response) => {
      res.writeHead(response.statusCode, response.headers);
      response.pipe(res);
    });
    upstream.on('error', (error) => res.destroy(error));
    upstream.end(body);
  });
});

emulator.listen(0, '127.0.0.1', () => proxy.listen(0, '127.0.0.1', () => process.send({ url: `http://127.0.0.1:${proxy.address().port}` })));
process.on('message', (message) => message && message.count && process.send({ writes }));
process.on('disconnect', () => process.exit(0));
