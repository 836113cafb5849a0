import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { eventually, getProfile, post, startTestRuntime } from '../support/local-runtime';

jest.setTimeout(90_000);

it('keeps profiles and stream positions across restarts, and starts empty with fresh', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'persist-'));

  const first = await startTestRuntime({ dataDir });
  expect((await post(`${first.url}/v1/track`, { userId: 'kept', event: 'Signed Up', messageId: 'p-1' })).status).toBe(200);
  const before = await eventually(async () => {
    const { status, body } = await getProfile(first.url, 'kept');
    return status === 200 ? body : undefined;
  });
  await first.stop();

  const second = await startTestRuntime({ dataDir });
  try {
    expect((await post(`${second.url}/v1/track`, { userId: 'kept', event: 'Logged In', messageId: 'p-2' })).status).toBe(200);
    const after = await eventually(async () => {
      const { body } = await getProfile(second.url, 'kept');
      return body.counts?.track === 2 ? body : undefined;
    });
    // The first event was neither lost nor processed a second time after the restart.
    expect(after.events).toEqual({ 'Signed Up': 1, 'Logged In': 1 });
    expect(after.version).toBe(before.version + 1);
  } finally {
    await second.stop();
  }

  const fresh = await startTestRuntime({ dataDir, fresh: true });
  try {
    expect((await getProfile(fresh.url, 'kept')).status).toBe(404);
  } finally {
    await fresh.stop();
  }
});
