import { createHash } from 'node:crypto';
import { itemInteractionOf } from './commerce';
import { StreamEvent } from './event-schema';

/**
 * Stream events as Amazon Personalize interactions (PutEvents), pure: which events become interactions, and
 * how they are grouped into requests. https://docs.aws.amazon.com/personalize/latest/dg/API_UBS_PutEvents.html
 */

/** PutEvents takes 1 to 10 events per call, all of one session (one `sessionId`, one optional `userId`). */
export const PUT_EVENTS_MAX_EVENTS = 10;

/**
 * One item interaction as PutEvents' `eventList` takes it. `properties` is left out on purpose: its keys must
 * be fields of the dataset group's Interactions schema, which this platform does not know, and an unknown
 * key would make Personalize reject the whole call.
 */
export interface PersonalizeEvent {
  /** Deterministic (see `eventIdOf`): a replayed event has the id it had the first time. */
  eventId: string;
  /** The Segment event name, e.g. `Product Viewed`. */
  eventType: string;
  /** The event's weight in `INTERACTION_WEIGHTS`. */
  eventValue: number;
  itemId: string;
  /** When the event happened (its `timestamp`), not when it was forwarded. */
  sentAt: Date;
}

/** An interaction and the session it belongs to. */
export interface PersonalizeInteraction {
  userId?: string;
  /** `anonymousId ?? userId`: Personalize ties a session's anonymous events to the user who later logs in. */
  sessionId: string;
  event: PersonalizeEvent;
}

/** A PutEvents request without the tracking id (deployment configuration), and the inputs whose events it carries. */
export interface PutEventsBatch<S> {
  request: { userId?: string; sessionId: string; eventList: PersonalizeEvent[] };
  /** Each input (e.g. stream record) once, in order; an input whose events did not fit is also in a later batch. */
  sources: S[];
}

/**
 * The Personalize interactions of one stream event: one per distinct item of a `track` event whose name is an
 * item interaction with a positive weight (`Order Completed` has one per product). Everything else yields none:
 * other event types, events without items, events outside the interaction vocabulary, and `Product Removed`
 * (weight 0), which Personalize would otherwise train on as interest, since it weighs all interactions alike
 * unless a solution is configured otherwise.
 */
export function interactionsOf(event: StreamEvent): PersonalizeInteraction[] {
  const interaction = itemInteractionOf(event);
  if (!interaction) return [];
  const { name, weight } = interaction;
  const sentAt = new Date(interaction.at);
  const session = { ...(event.userId !== undefined ? { userId: event.userId } : {}), sessionId: (event.anonymousId ?? event.userId) as string };
  const itemIds = [...new Set(interaction.items.map((item) => item.itemId))];
  return itemIds.map((itemId) => ({
    ...session,
    event: { eventId: eventIdOf(event.messageId, itemId), eventType: name, eventValue: weight, itemId, sentAt },
  }));
}

/**
 * The event id of an item in a message: a hash of both (43 characters, within PutEvents' 256), so the same
 * message always yields the same ids and Personalize, which trains only on the first event of an id, ignores
 * replays and redeliveries.
 */
export function eventIdOf(messageId: string, itemId: string): string {
  return createHash('sha256').update(JSON.stringify([messageId, itemId])).digest('base64url');
}

/**
 * Groups interactions into PutEvents requests: each holds at most `maxEvents` events of one (userId, sessionId),
 * in input order, and names the inputs it carries, so a failed request can fail exactly those inputs.
 */
export function toPutEventsBatches<S>(
  inputs: Iterable<{ source: S; interactions: readonly PersonalizeInteraction[] }>,
  maxEvents: number = PUT_EVENTS_MAX_EVENTS,
): PutEventsBatch<S>[] {
  const batches: PutEventsBatch<S>[] = [];
  const open = new Map<string, PutEventsBatch<S>>();
  for (const { source, interactions } of inputs) {
    for (const { userId, sessionId, event } of interactions) {
      const key = JSON.stringify([userId ?? null, sessionId]);
      let batch = open.get(key);
      if (!batch || batch.request.eventList.length >= maxEvents) {
        batch = { request: { ...(userId !== undefined ? { userId } : {}), sessionId, eventList: [] }, sources: [] };
        open.set(key, batch);
        batches.push(batch);
      }
      batch.request.eventList.push(event);
      if (!batch.sources.includes(source)) batch.sources.push(source);
    }
  }
  return batches;
}
