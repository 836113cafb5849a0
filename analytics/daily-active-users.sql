-- title: Daily active users and events by type
-- description: One row per day of the last 30 days (UTC, by event time): distinct people active, known users, anonymous visitors, and events of each type. Each event counted once (de-duplicated by messageid); recommendation exposures (written by the platform, not done by the person) are left out.
--
-- A person is coalesce(userid, anonymousid): someone who browsed anonymously and then logged in counts as two
-- people until identity resolution links the ids.
WITH received AS (
  SELECT messageid, type, event, userid, anonymousid, "timestamp",
         -- The lake is at-least-once: the same event can sit in several objects. Number the copies, keep the first.
         row_number() OVER (PARTITION BY messageid ORDER BY receivedat, dt, hour) AS copy
  FROM events
  -- Partition pruning: dt is the UTC day the event was received.
  WHERE dt >= CAST(CAST(current_date - INTERVAL '30' DAY AS DATE) AS VARCHAR)
),
activity AS (
  SELECT CAST(from_iso8601_timestamp("timestamp") AS DATE) AS day,
         type, userid, anonymousid,
         coalesce(userid, anonymousid) AS person
  FROM received
  WHERE copy = 1
    -- 'Recommendations Shown' is the exposure the recommendations API writes for every response.
    AND coalesce(event, '') <> 'Recommendations Shown'
)
SELECT day,
       count(DISTINCT person) AS active_people,
       count(DISTINCT userid) AS known_users,
       count(DISTINCT CASE WHEN userid IS NULL THEN anonymousid END) AS anonymous_visitors,
       count(*) AS events,
       count_if(type = 'track') AS track_events,
       count_if(type = 'page') AS page_events,
       count_if(type = 'screen') AS screen_events,
       count_if(type = 'identify') AS identify_events,
       count_if(type = 'alias') AS alias_events,
       count_if(type = 'group') AS group_events
FROM activity
-- Event time, not arrival: late events received in the window may have happened before it.
WHERE day >= CAST(current_date - INTERVAL '30' DAY AS DATE)
GROUP BY day
ORDER BY day
