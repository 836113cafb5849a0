import { INTERACTION_WEIGHTS, itemsOf } from './commerce';
import { parseIsoTimestamp, StreamEvent } from './event-schema';
import { Interaction } from './model';
import { profileIdOf } from './profile';

/**
 * The item interactions in one stream event, as training reads them: one per item of a `track` event whose
 * name carries interest (`INTERACTION_WEIGHTS`; a removal from the cart carries none). The subject is the
 * person's profile id, so an anonymous visitor's and a known user's histories stay apart until identity
 * resolution links them.
 */
export function interactionsOf(event: StreamEvent): Interaction[] {
  const name = event.event;
  if (event.type !== 'track' || name === undefined) return [];
  const weight = INTERACTION_WEIGHTS[name];
  if (weight === undefined || weight <= 0) return [];
  const at = parseIsoTimestamp(event.timestamp) as number;
  const subject = profileIdOf(event);
  return itemsOf(name, event.properties).map((item) => ({
    subject,
    itemId: item.itemId,
    event: name,
    at,
    ...(item.category !== undefined ? { categories: [item.category] } : {}),
  }));
}
