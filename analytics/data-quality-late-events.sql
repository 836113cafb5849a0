-- title: Data quality: late-arriving events
-- description: Per day received (UTC partition dt) of the last 30 days: events, events received more than 1 hour after they happened (receivedat - timestamp > 1 h) and their share, their average and maximum delay in hours, and events stamped more than 1 hour after their arrival.
--
-- Late events come from offline devices flushing queues, batch imports and replays. They matter because
-- analyses bucket by event time: a late event changes a day that may already have been reported. The timestamp is
-- after Segment's clock-skew correction (ingest), so remaining "future" events mean a client sent a sentAt that
-- does not match its clock; ingest rejects anything more than 24 h ahead.
WITH received AS (
  SELECT dt, "timestamp", receivedat,
         -- The lake is at-least-once: the same event can sit in several objects. Number the copies, keep the first.
         row_number() OVER (PARTITION BY messageid ORDER BY receivedat, dt, hour) AS copy
  FROM events
  -- Partition pruning: dt is the UTC day the event was received.
  WHERE dt >= CAST(CAST(current_date - INTERVAL '30' DAY AS DATE) AS VARCHAR)
),
delays AS (
  SELECT dt,
         -- Seconds from when it happened to when the platform received it.
         to_unixtime(from_iso8601_timestamp(receivedat)) - to_unixtime(from_iso8601_timestamp("timestamp")) AS delay_seconds
  FROM received
  WHERE copy = 1
)
SELECT dt AS received_day,
       count(*) AS events,
       count_if(delay_seconds > 3600) AS late_events,
       round(CAST(count_if(delay_seconds > 3600) AS DOUBLE) / count(*), 4) AS late_share,
       round(avg(CASE WHEN delay_seconds > 3600 THEN delay_seconds END) / 3600, 2) AS avg_late_delay_hours,
       round(max(CASE WHEN delay_seconds > 3600 THEN delay_seconds END) / 3600, 2) AS max_late_delay_hours,
       count_if(delay_seconds < -3600) AS future_events
FROM delays
GROUP BY dt
ORDER BY dt
