import { SegmentNotice } from './segment-membership';

/**
 * Segment events as they travel on the segment bus (EventBridge): the contract between the publisher
 * (`store/segment-bus.ts`) and every subscriber, the lake's `segment_events` table among them. Pure: `lib/` reads
 * the source and the detail's fields from here.
 */

/** `source` of every segment event on the bus: what an EventBridge rule matches. */
export const SEGMENT_EVENT_SOURCE = 'personalization.segments';
/** `detail-type` of entries and exits. */
export const SEGMENT_DETAIL_TYPES = { entered: 'Segment Entered', exited: 'Segment Exited' } as const;

/** The detail of a segment event: the notice, its id as `noticeId`, its times as ISO strings. */
export interface SegmentEventDetail {
  /** The same for the same transition (`<segmentId>/<profileId>/<since>/<type>`): a subscriber de-duplicates on it. */
  noticeId: string;
  type: SegmentNotice['type'];
  segmentId: string;
  profileId: string;
  userId?: string;
  /** When the membership changed. */
  at: string;
  /** When the membership began (for an entry, `at`). */
  since: string;
  reason: SegmentNotice['reason'];
}

/** Every field of a detail, in the order the lake's `segment_events.detail` struct lists them. */
export const SEGMENT_EVENT_DETAIL_FIELDS: ReadonlyArray<keyof SegmentEventDetail> = ['noticeId', 'type', 'segmentId', 'profileId', 'userId', 'at', 'since', 'reason'];

/** The detail of the segment event of a notice. */
export function segmentEventDetail(notice: SegmentNotice): SegmentEventDetail {
  const { id, at, since, ...rest } = notice;
  return { noticeId: id, ...rest, at: new Date(at).toISOString(), since: new Date(since).toISOString() };
}
