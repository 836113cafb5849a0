-- title: Weekly cohort retention
-- description: People grouped by the week (Monday, UTC) of their first event in the last 30 days; for each cohort and each week N = 0, 1, ... after it, the number and share of the cohort active that week.
--
-- A person is coalesce(userid, anonymousid); active = any event by them (event time), recommendation exposures
-- excepted (written by the platform, not done by the person). Week N is N calendar weeks after the cohort's week,
-- so week 0 is 100% by construction.
-- The window is 30 days, so "first event" means first in the window: the earliest cohort also holds everyone who
-- was already active before, and it may be a partial week. Widen the two date filters below for a longer view.
-- Weeks in which the cohort had no one active are listed with 0.
WITH received AS (
  SELECT messageid, event, userid, anonymousid, "timestamp",
         -- The lake is at-least-once: the same event can sit in several objects. Number the copies, keep the first.
         row_number() OVER (PARTITION BY messageid ORDER BY receivedat, dt, hour) AS copy
  FROM events
  -- Partition pruning: dt is the UTC day the event was received.
  WHERE dt >= CAST(CAST(current_date - INTERVAL '30' DAY AS DATE) AS VARCHAR)
),
activity AS (
  SELECT DISTINCT
         coalesce(userid, anonymousid) AS person,
         -- date_trunc of a timestamp is a timestamp in both engines; the cast makes it the Monday's DATE.
         CAST(date_trunc('week', from_iso8601_timestamp("timestamp")) AS DATE) AS week
  FROM received
  WHERE copy = 1
    AND coalesce(event, '') <> 'Recommendations Shown'
    AND CAST(from_iso8601_timestamp("timestamp") AS DATE) >= CAST(current_date - INTERVAL '30' DAY AS DATE)
),
cohorts AS (
  SELECT person, min(week) AS cohort_week FROM activity GROUP BY person
),
cohort_sizes AS (
  SELECT cohort_week, count(*) AS cohort_size FROM cohorts GROUP BY cohort_week
),
weeks AS (
  SELECT DISTINCT week FROM activity
),
active AS (
  SELECT c.cohort_week, a.week, count(*) AS people
  FROM cohorts c JOIN activity a ON a.person = c.person
  GROUP BY c.cohort_week, a.week
)
SELECT s.cohort_week,
       s.cohort_size,
       date_diff('week', s.cohort_week, w.week) AS week_number,
       coalesce(a.people, 0) AS active_people,
       round(CAST(coalesce(a.people, 0) AS DOUBLE) / s.cohort_size, 4) AS retention
FROM cohort_sizes s
JOIN weeks w ON w.week >= s.cohort_week
LEFT JOIN active a ON a.cohort_week = s.cohort_week AND a.week = w.week
ORDER BY s.cohort_week, week_number
