import { itemInteractionOf } from './commerce';
import { StreamEvent } from './event-schema';
import { Interaction } from './model';
import { profileIdOf } from './profile';

/**
 * The item interactions in one stream event, as training reads them: one per item of a `track` event whose
 * name carries interest (`INTERACTION_WEIGHTS`; a removal from the cart carries none). The subject is the
 * person's profile id, so an anonymous visitor's and a known user's histories stay apart until identity
 * resolution links them.
 */
export function interactionsOf(event: StreamEvent): Interaction[] {
  const interaction = itemInteractionOf(event);
  if (!interaction) return [];
  const { name, at, items } = interaction;
  const subject = profileIdOf(event);
  return items.map((item) => ({
    subject,
    itemId: item.itemId,
    event: name,
    at,
    ...(item.category !== undefined ? { categories: [item.category] } : {}),
  }));
}
