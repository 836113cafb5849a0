import { EventBridgeClient, PutEventsCommand, PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { SEGMENT_DETAIL_TYPES, SEGMENT_EVENT_SOURCE, segmentEventDetail } from '../domain/segment-events';
import { SegmentNotice } from '../domain/segment-membership';
import { DEFAULT_RETRY, putAllWithRetry, RetryPolicy } from './retry';

/** Where segment entry and exit notices go. */
export interface SegmentBus {
  /** Publishes every notice, or throws (the notices stay queued on the profile and are published again later). */
  publish(notices: readonly SegmentNotice[]): Promise<void>;
}

/** PutEvents: 10 entries and 256 KB per call. */
const PUT_EVENTS_LIMITS = { maxEntries: 10, maxBytes: 256 * 1024, maxEntryBytes: 256 * 1024 };

/**
 * Segment events on an EventBridge bus (`source` `personalization.segments`, `detail-type` `Segment Entered` or
 * `Segment Exited`, `time` the transition's time, `detail` the notice: see `domain/segment-events.ts`), for email,
 * CMS, CRM and webhook rules to subscribe to. Entries EventBridge reports as failed are retried with backoff; what
 * still fails makes `publish` throw.
 */
export class EventBridgeSegmentBus implements SegmentBus {
  constructor(
    private readonly client: EventBridgeClient,
    private readonly busName: string,
    private readonly policy: RetryPolicy = DEFAULT_RETRY,
  ) {}

  async publish(notices: readonly SegmentNotice[]): Promise<void> {
    const entries: PutEventsRequestEntry[] = notices.map((notice) => ({
      EventBusName: this.busName,
      Source: SEGMENT_EVENT_SOURCE,
      DetailType: SEGMENT_DETAIL_TYPES[notice.type],
      Time: new Date(notice.at),
      Detail: JSON.stringify(segmentEventDetail(notice)),
    }));
    const { failed, lastError } = await putAllWithRetry(entries, {
      limits: PUT_EVENTS_LIMITS,
      // EventBridge counts the detail, the detail type, the source and the resources (none here).
      sizeOf: (entry) => Buffer.byteLength(entry.Detail ?? '') + Buffer.byteLength(entry.DetailType ?? '') + Buffer.byteLength(entry.Source ?? '') + 14,
      send: async (chunk) => {
        const out = await this.client.send(new PutEventsCommand({ Entries: chunk }));
        return chunk.map((_, i) => {
          const result = out.Entries?.[i];
          return result?.ErrorCode ? `${result.ErrorCode}: ${result.ErrorMessage ?? ''}` : result?.EventId ? undefined : 'NoResult: no entry result';
        });
      },
      policy: this.policy,
    });
    if (failed.length > 0) throw new Error(`${failed.length} of ${notices.length} segment events not published to ${this.busName}: ${lastError}`);
  }
}
