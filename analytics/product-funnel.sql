-- title: Product funnel: viewed, added, ordered
-- description: People of the last 30 days who viewed a product, then added one to the cart, then completed an order, each step counted only when it came after the previous one for that person, with the conversion from the previous step and from the first.
--
-- A person is coalesce(userid, anonymousid). Step times are event times. A person reaches "added" with any
-- 'Product Added' after their first 'Product Viewed', and "ordered" with any 'Order Completed' after that first
-- qualifying add: taking the earliest time at each step is the most permissive ordering, so a person who did the
-- steps in order at any point counts. The steps need not involve the same product.
WITH received AS (
  SELECT messageid, event, userid, anonymousid, "timestamp",
         -- The lake is at-least-once: the same event can sit in several objects. Number the copies, keep the first.
         row_number() OVER (PARTITION BY messageid ORDER BY receivedat, dt, hour) AS copy
  FROM events
  -- Partition pruning: dt is the UTC day the event was received.
  WHERE dt >= CAST(CAST(current_date - INTERVAL '30' DAY AS DATE) AS VARCHAR)
    AND type = 'track'
    AND event IN ('Product Viewed', 'Product Added', 'Order Completed')
),
steps AS (
  SELECT coalesce(userid, anonymousid) AS person, event, from_iso8601_timestamp("timestamp") AS happened_at
  FROM received
  WHERE copy = 1
    AND CAST(from_iso8601_timestamp("timestamp") AS DATE) >= CAST(current_date - INTERVAL '30' DAY AS DATE)
),
viewed AS (
  SELECT person, min(happened_at) AS happened_at FROM steps WHERE event = 'Product Viewed' GROUP BY person
),
added AS (
  SELECT s.person, min(s.happened_at) AS happened_at
  FROM steps s JOIN viewed v ON s.person = v.person AND s.happened_at > v.happened_at
  WHERE s.event = 'Product Added'
  GROUP BY s.person
),
ordered AS (
  SELECT s.person, min(s.happened_at) AS happened_at
  FROM steps s JOIN added a ON s.person = a.person AND s.happened_at > a.happened_at
  WHERE s.event = 'Order Completed'
  GROUP BY s.person
),
funnel AS (
  SELECT 1 AS step, 'Product Viewed' AS event, (SELECT count(*) FROM viewed) AS people
  UNION ALL
  SELECT 2, 'Product Added', (SELECT count(*) FROM added)
  UNION ALL
  SELECT 3, 'Order Completed', (SELECT count(*) FROM ordered)
)
SELECT step, event, people,
       -- Share of the previous step's people who reached this one (1 for the first step).
       round(CAST(people AS DOUBLE) / NULLIF(coalesce(lag(people) OVER (ORDER BY step), people), 0), 4) AS conversion_from_previous,
       round(CAST(people AS DOUBLE) / NULLIF(first_value(people) OVER (ORDER BY step), 0), 4) AS conversion_from_first
FROM funnel
ORDER BY step
