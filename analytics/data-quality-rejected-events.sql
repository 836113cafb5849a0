-- title: Data quality: rejected events by reason
-- description: Events rejected in the last 30 days (bad_events: by ingest at the API, or by the stream processor), per source and reason: how many, how many had their payload truncated, how many sources sent them, and when the first and last were detected.
--
-- bad_events is partitioned by the UTC day the rejection was detected (dt). A rejected record may be written more
-- than once (at-least-once delivery): rows are de-duplicated by id. Reasons are the validation messages, so
-- the same problem from many clients groups together.
WITH rejected AS (
  SELECT id, source, reason, truncated, sourceid, detectedat,
         row_number() OVER (PARTITION BY id ORDER BY detectedat, dt, hour) AS copy
  FROM bad_events
  -- Partition pruning: dt is the UTC day the rejection was detected.
  WHERE dt >= CAST(CAST(current_date - INTERVAL '30' DAY AS DATE) AS VARCHAR)
)
SELECT source,
       reason,
       count(*) AS rejected,
       count_if(truncated) AS truncated,
       count(DISTINCT sourceid) AS sources,
       min(detectedat) AS first_detected_at,
       max(detectedat) AS last_detected_at
FROM rejected
WHERE copy = 1
GROUP BY source, reason
ORDER BY rejected DESC, source, reason
