import { interactionsOf } from '../../lambdas/shared/domain/interactions';
import { identify, T0, track } from '../support/events';

describe('interactionsOf', () => {
  it('reads one interaction per item of an order, keyed by the profile id, with the event categories', () => {
    const order = track('Order Completed', { products: [{ product_id: 'p1', category: 'Shoes' }, { product_id: 'p2' }] }, { anonymousId: 'a1' });
    expect(interactionsOf(order)).toEqual([
      { subject: 'anon#a1', itemId: 'p1', event: 'Order Completed', at: T0, categories: ['shoes'] },
      { subject: 'anon#a1', itemId: 'p2', event: 'Order Completed', at: T0 },
    ]);
  });

  it('ignores events that carry no interest in an item', () => {
    expect(interactionsOf(track('Product Removed', { product_id: 'p1' }))).toEqual([]);
    expect(interactionsOf(track('Recommendations Shown', { products: [{ product_id: 'p1', position: 1 }] }))).toEqual([]);
    expect(interactionsOf(track('Signed Up'))).toEqual([]);
    expect(interactionsOf(identify({ plan: 'pro' }))).toEqual([]);
  });
});
