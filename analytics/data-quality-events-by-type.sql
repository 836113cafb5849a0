-- title: Data quality: events by type per day
-- description: Per day received (UTC partition dt) of the last 30 days and event type: copies in the lake, distinct events, duplicate copies (the same messageid delivered again), and the number of sources sending.
--
-- The lake is at-least-once, so duplicates are expected at a low rate (client retries, replays); a spike points
-- at a misbehaving client or a delivery problem. A copy counts as a duplicate when an earlier copy of the same
-- messageid was received in the window (earliest receivedat first), so a duplicate received days later is
-- counted on its own day.
WITH copies AS (
  SELECT dt, type, sourceid,
         row_number() OVER (PARTITION BY messageid ORDER BY receivedat, dt, hour) AS copy
  FROM events
  -- Partition pruning: dt is the UTC day the event was received.
  WHERE dt >= CAST(CAST(current_date - INTERVAL '30' DAY AS DATE) AS VARCHAR)
)
SELECT dt AS received_day,
       type,
       count(*) AS copies,
       count_if(copy = 1) AS events,
       count_if(copy > 1) AS duplicates,
       round(CAST(count_if(copy > 1) AS DOUBLE) / count(*), 4) AS duplicate_share,
       count(DISTINCT sourceid) AS sources
FROM copies
GROUP BY dt, type
ORDER BY dt, type
