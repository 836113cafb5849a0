import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import type { Server } from 'node:http';
import * as path from 'node:path';
import { awsJsonServer } from './aws-json';
import { LOCAL_ACCOUNT, LOCAL_REGION, LocalBusRule, LocalEventBus, PATTERN_FIELDS } from './template-model';

/** What the local EventBridge routes events with: the template's rules, and how a rule's target receives records. */
export interface EventBusRouting {
  rules: readonly LocalBusRule[];
  /** Puts records on the rule's delivery stream (`firehose.ts`' `deliverRecords`); resolves once delivered. */
  deliver(rule: LocalBusRule, records: Buffer[]): Promise<void>;
}

/**
 * A minimal Amazon EventBridge endpoint (AWS JSON 1.1 protocol) for the template's event buses: `PutEvents` only.
 * It records every event, as EventBridge delivers it to a target, one JSON line per event in
 *
 *   <dir>/<bus name>.jsonl   {"version":"0","id":…,"detail-type":…,"source":…,"account":…,"time":…,"region":…,"resources":[],"detail":{…}}
 *
 * so a developer (or a test) sees exactly what subscribers would receive; and, as EventBridge does, it sends the
 * events that match a rule of their bus (`matchesRule`) to the rule's target, a Firehose delivery stream of the
 * template: each event as one record, its JSON without a newline, as EventBridge writes it.
 * A call is answered once its events are recorded and delivered; if either fails, the call fails (500) and the
 * publisher puts the events again, so a target may receive an event twice, as EventBridge's at-least-once delivery
 * allows. An entry for an unknown bus or without source, detail type or JSON detail fails on its own, with
 * EventBridge's error code, as PutEvents reports per entry.
 */
export function eventBusStub(buses: readonly LocalEventBus[], dir: string, routing: EventBusRouting, now: () => number = Date.now): Server {
  return awsJsonServer((target, body, reply) => {
    if (target !== 'AWSEvents.PutEvents') {
      return reply(400, { __type: 'ValidationException', message: `The local EventBridge only supports PutEvents, not ${target || '(no X-Amz-Target)'}` });
    }
    let entries: PutEventsEntry[];
    try {
      entries = JSON.parse(body.toString('utf8')).Entries;
    } catch {
      return reply(400, { __type: 'SerializationException', message: 'Malformed request body' });
    }
    if (!Array.isArray(entries) || entries.length === 0 || entries.length > 10) {
      return reply(400, { __type: 'ValidationException', message: 'Entries must hold 1 to 10 entries' });
    }
    const results = entries.map((entry) => toEvent(entry, buses, now()));
    const events = results.flatMap((r) => ('event' in r ? [r] : []));
    appendEvents(dir, events)
      .then(() => route(events, routing))
      .then(
        () =>
          reply(200, {
            FailedEntryCount: results.filter((r) => 'ErrorCode' in r).length,
            Entries: results.map((r) => ('event' in r ? { EventId: r.event.id } : r)),
          }),
        (error: Error) => reply(500, { __type: 'InternalException', message: `The local EventBridge could not record or deliver the events: ${error.message}` }),
      );
  });
}

/** The events recorded on a bus, oldest first (none when nothing was put on it). */
export function recordedEvents(dir: string, busName: string): Array<Record<string, any>> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const file = path.join(dir, `${busName}.jsonl`);
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line));
}

/**
 * Whether an event matches a rule's pattern: each field the pattern names has one of the pattern's values, exactly
 * (the subset of EventBridge's matching that the template model accepts: see `LocalBusRule`).
 */
export function matchesRule(rule: Pick<LocalBusRule, 'pattern'>, event: Record<string, unknown>): boolean {
  return PATTERN_FIELDS.every((field) => {
    const values = rule.pattern[field];
    return values === undefined || values.includes(event[field] as string);
  });
}

/** Sends the events of each rule's bus that match it to the rule's target, in order. */
async function route(events: ReadonlyArray<{ bus: string; event: Record<string, unknown> }>, routing: EventBusRouting): Promise<void> {
  for (const rule of routing.rules) {
    const matching = events.filter(({ bus, event }) => bus === rule.busName && matchesRule(rule, event));
    if (matching.length > 0) await routing.deliver(rule, matching.map(({ event }) => Buffer.from(JSON.stringify(event))));
  }
}

interface PutEventsEntry {
  EventBusName?: string;
  Source?: string;
  DetailType?: string;
  Detail?: string;
  Time?: number | string;
  Resources?: string[];
}

type EntryResult = { bus: string; event: Record<string, unknown> } | { ErrorCode: string; ErrorMessage: string };

/** An entry as the event EventBridge would deliver, or its per-entry error. */
function toEvent(entry: PutEventsEntry, buses: readonly LocalEventBus[], nowMs: number): EntryResult {
  const busName = entry.EventBusName ?? 'default';
  const bus = buses.find((b) => b.name === busName || b.arn === busName);
  if (!bus) return { ErrorCode: 'ResourceNotFoundException', ErrorMessage: `Event bus ${busName} does not exist.` };
  if (!entry.Source || !entry.DetailType || entry.Detail === undefined) {
    return { ErrorCode: 'InvalidArgument', ErrorMessage: 'Parameters Source, DetailType and Detail are required' };
  }
  let detail: unknown;
  try {
    detail = JSON.parse(entry.Detail);
  } catch {
    return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
  }
  // The SDK sends Time as epoch seconds; EventBridge delivers it as an ISO time to the second.
  const time = new Date(entry.Time !== undefined ? Number(entry.Time) * 1000 : nowMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return {
    bus: bus.name,
    event: {
      version: '0',
      id: randomUUID(),
      'detail-type': entry.DetailType,
      source: entry.Source,
      account: LOCAL_ACCOUNT,
      time,
      region: LOCAL_REGION,
      resources: entry.Resources ?? [],
      detail,
    },
  };
}

async function appendEvents(dir: string, events: Array<{ bus: string; event: Record<string, unknown> }>): Promise<void> {
  if (events.length === 0) return;
  await fs.promises.mkdir(dir, { recursive: true });
  const byBus = new Map<string, string[]>();
  for (const { bus, event } of events) byBus.set(bus, [...(byBus.get(bus) ?? []), JSON.stringify(event)]);
  for (const [bus, lines] of byBus) await fs.promises.appendFile(path.join(dir, `${bus}.jsonl`), `${lines.join('\n')}\n`);
}
