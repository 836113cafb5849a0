import { GetRecommendationsCommand, PersonalizeRuntimeClient, ResourceNotFoundException } from '@aws-sdk/client-personalize-runtime';
import { mockClient } from 'aws-sdk-client-mock';
import { DEFAULT_PERSONALIZE_TIMEOUT_MS, PersonalizeRecommender } from '../../lambdas/shared/store/personalize-recommender';

const CAMPAIGN_ARN = 'arn:aws:personalize:us-east-1:123456789012:campaign/shop';
const FILTER_ARN = 'arn:aws:personalize:us-east-1:123456789012:filter/not-purchased';

function setup(timeoutMs?: number) {
  const client = new PersonalizeRuntimeClient({ region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  const personalize = mockClient(client);
  return { personalize, recommender: new PersonalizeRecommender(client, CAMPAIGN_ARN, timeoutMs) };
}

describe('PersonalizeRecommender', () => {
  it('asks the campaign for the user, with the item context and filter, and keeps Personalize’s order', async () => {
    const { personalize, recommender } = setup();
    personalize.on(GetRecommendationsCommand).resolves({
      recommendationId: 'RID-1',
      itemList: [{ itemId: 'p9', score: 0.5 }, { itemId: 'p3', score: 0.7 }, { score: 0.1 }, { itemId: 'p4' }],
    });

    const items = await recommender.recommend({ userId: 'u1', itemId: 'p1', numResults: 4, filterArn: FILTER_ARN });

    expect(items).toEqual([
      { itemId: 'p9', score: 0.5 },
      { itemId: 'p3', score: 0.7 },
      { itemId: 'p4', score: 0 },
    ]);
    expect(personalize.commandCalls(GetRecommendationsCommand).map((c) => c.args[0].input)).toEqual([
      { campaignArn: CAMPAIGN_ARN, userId: 'u1', itemId: 'p1', numResults: 4, filterArn: FILTER_ARN },
    ]);
  });

  it('returns nothing when Personalize has nothing', async () => {
    const { personalize, recommender } = setup();
    personalize.on(GetRecommendationsCommand).resolves({});
    await expect(recommender.recommend({ userId: 'u1', numResults: 10 })).resolves.toEqual([]);
  });

  it('rejects when Personalize fails', async () => {
    const { personalize, recommender } = setup();
    personalize.on(GetRecommendationsCommand).rejects(new ResourceNotFoundException({ $metadata: {}, message: 'No campaign' }));
    await expect(recommender.recommend({ userId: 'u1', numResults: 10 })).rejects.toThrow('No campaign');
  });

  it('rejects at its deadline, and aborts the call', async () => {
    const { personalize, recommender } = setup(50);
    personalize.on(GetRecommendationsCommand).callsFake(() => new Promise(() => {})); // never answers

    const started = performance.now();
    await expect(recommender.recommend({ userId: 'u1', numResults: 10 })).rejects.toThrow('Personalize GetRecommendations timed out after 50 ms');
    const elapsed = performance.now() - started;

    expect(elapsed).toBeGreaterThanOrEqual(45);
    expect(elapsed).toBeLessThan(50 + 200);
    // Sent with an abort signal, which the deadline fired: the SDK drops the request.
    const options = (personalize.call(0).args as unknown[])[1] as { abortSignal?: AbortSignal } | undefined;
    expect(options?.abortSignal?.aborted).toBe(true);
  });

  it('answers well within the deadline when Personalize does', async () => {
    const { personalize, recommender } = setup();
    personalize.on(GetRecommendationsCommand).resolves({ itemList: [{ itemId: 'p1', score: 1 }] });
    const started = performance.now();
    await recommender.recommend({ userId: 'u1', numResults: 1 });
    expect(performance.now() - started).toBeLessThan(DEFAULT_PERSONALIZE_TIMEOUT_MS);
  });
});
