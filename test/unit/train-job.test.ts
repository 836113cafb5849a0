import { Interaction } from '../../lambdas/shared/domain/model';
import { runTraining, versionAt } from '../../lambdas/train/train-job';
import { DynamoDbCatalogStore } from '../../lambdas/shared/store/catalog-store';
import { DynamoDbModelStore } from '../../lambdas/shared/store/model-store';
import { startDynalite } from '../support/dynalite';
import { T0 } from '../support/events';

const bought = (subject: string, itemId: string): Interaction => ({ subject, itemId, event: 'Order Completed', at: T0, categories: ['gear'] });
const item = (itemId: string) => ({ itemId, categories: ['gear'], available: true, tags: [], attributes: {}, updatedAt: T0 });

describe('runTraining (on dynalite)', () => {
  let db: Awaited<ReturnType<typeof startDynalite>>;
  let catalog: DynamoDbCatalogStore;
  let models: DynamoDbModelStore;
  const deps = () => ({ catalog, models, now: () => T0, log: () => {} });
  beforeEach(async () => {
    db = await startDynalite('items-train');
    catalog = new DynamoDbCatalogStore(db.client, db.tableName);
    models = new DynamoDbModelStore(db.client, db.tableName);
  });
  afterEach(() => db.close());

  it('writes a version and switches serving to it, replacing the previous one', async () => {
    const rows = [bought('u1', 'a'), bought('u1', 'b'), bought('u2', 'a'), bought('u2', 'b')];
    const first = await runTraining(rows, deps(), { retentionDays: 1 });
    expect(first.previousVersion).toBeUndefined();
    expect(first.stats.interactions).toBe(4);
    expect((await models.servingState()).manifest?.version).toBe(first.version);
    expect((await models.lists(first.version, ['a'], [])).neighbours.get('a')?.map((n) => n.itemId)).toEqual(['b']);

    const second = await runTraining(rows, deps(), { retentionDays: 1 });
    expect(second.previousVersion).toBe(first.version);
    expect((await models.servingState()).manifest?.version).toBe(second.version);
  });

  it('leaves the serving model alone when another run switched first', async () => {
    const first = await runTraining([bought('u1', 'a'), bought('u1', 'b')], deps(), { retentionDays: 1 });
    const racing = { ...deps(), models: Object.assign(Object.create(models), { switchTo: async () => false }) as DynamoDbModelStore };
    await expect(runTraining([bought('u1', 'c')], racing, { retentionDays: 1 })).rejects.toThrow(/is not served/);
    expect((await models.servingState()).manifest?.version).toBe(first.version);
  });

  it('keeps a deleted item unavailable while the model holds it, and forgets it once no model does', async () => {
    await catalog.upsert([item('a'), item('b'), item('gone')]);
    await catalog.delete('gone');
    const withGone = await runTraining([bought('u1', 'a'), bought('u1', 'gone')], deps(), { retentionDays: 1 });
    expect(withGone.pruned).toBe(0);
    expect(await catalog.unavailable()).toEqual(new Set(['gone']));

    const without = await runTraining([bought('u1', 'a'), bought('u1', 'b')], deps(), { retentionDays: 1 });
    expect(without.pruned).toBe(1);
    expect(await catalog.unavailable()).toEqual(new Set());
  });

  it('names versions so that they sort by time', () => {
    expect(versionAt(Date.UTC(2026, 10, 22, 10, 15, 0))).toMatch(/^v20261122T101500Z-[0-9a-f]{4}$/);
    expect(versionAt(Date.UTC(2026, 10, 22, 10, 15, 1)) > versionAt(Date.UTC(2026, 10, 22, 10, 15, 0))).toBe(true);
  });
});
