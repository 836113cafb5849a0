-- title: Segment sizes over time
-- description: One row per segment and day (UTC) of the last 30 days, for every segment with an entry or exit in that time: entries, exits, the change in size since the window began, and the members who joined within the window and were still in at the end of the day. From segment_events, each transition counted once.
--
-- How size is computed. The lake holds transitions, not memberships: someone who joined a segment more than 30
-- days ago and is still in has no event in the window, so the number of members when the window began is unknown.
-- Two sizes are given instead, each exact for what it says (given every transition reached the lake):
--   net_change                entries minus exits from the window's first day to the end of this day, i.e. the
--                             size at the end of this day minus the size when the window began (negative when more
--                             left than joined).
--   members_joined_in_window  memberships that began in the window (since >= its first day) and had not ended by
--                             the end of this day. This is the size at the end of the day for a segment nobody from
--                             before the window is still in (one created within the window, or one whose
--                             memberships never last 30 days, e.g. "added to cart in the last hour"), and a lower
--                             bound otherwise. Exits of memberships that began before the window (since earlier)
--                             count in exits and net_change only.
-- A transition's day is the UTC day it happened (detail."at"): an exit 10 minutes after an add to cart is on the day
-- of add + 10 minutes, whenever it was published. Days without an entry or exit are listed with 0 and the sizes of
-- the day before.
-- dt is the UTC day the event reached the lake, never before the transition (it is published once it happened), so
-- pruning on dt loses no transition of the window. The bus and Firehose deliver at least once, and a transition can
-- be published twice: its noticeid is the same every time, and the first copy is kept.
WITH received AS (
  SELECT detail,
         row_number() OVER (PARTITION BY detail.noticeid ORDER BY dt, hour, id) AS copy
  FROM segment_events
  -- Partition pruning: dt is the UTC day the event reached the lake.
  WHERE dt >= CAST(CAST(current_date - INTERVAL '30' DAY AS DATE) AS VARCHAR)
),
transitions AS (
  SELECT detail.segmentid AS segment_id,
         detail.type AS type,
         CAST(from_iso8601_timestamp(detail."at") AS DATE) AS day,
         CAST(from_iso8601_timestamp(detail.since) AS DATE) AS since_day
  FROM received
  WHERE copy = 1
),
daily AS (
  SELECT segment_id,
         day,
         count_if(type = 'entered') AS entries,
         count_if(type = 'exited') AS exits,
         count_if(type = 'exited' AND since_day >= CAST(current_date - INTERVAL '30' DAY AS DATE)) AS exits_joined_in_window
  FROM transitions
  -- Transition time, not arrival: an event published in the window may be of a transition before it.
  WHERE day >= CAST(current_date - INTERVAL '30' DAY AS DATE)
  GROUP BY segment_id, day
),
segments AS (
  SELECT DISTINCT segment_id FROM daily
),
days AS (
  SELECT day FROM UNNEST(sequence(CAST(current_date - INTERVAL '30' DAY AS DATE), current_date)) AS t(day)
),
grid AS (
  SELECT s.segment_id,
         d.day,
         coalesce(c.entries, 0) AS entries,
         coalesce(c.exits, 0) AS exits,
         coalesce(c.exits_joined_in_window, 0) AS exits_joined_in_window
  FROM segments s
  CROSS JOIN days d
  LEFT JOIN daily c ON c.segment_id = s.segment_id AND c.day = d.day
)
SELECT day,
       segment_id,
       entries,
       exits,
       sum(entries - exits) OVER (PARTITION BY segment_id ORDER BY day) AS net_change,
       sum(entries - exits_joined_in_window) OVER (PARTITION BY segment_id ORDER BY day) AS members_joined_in_window
FROM grid
ORDER BY segment_id, day
