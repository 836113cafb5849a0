-- title: RFM segments of customers
-- description: Known customers (userid) who completed an order in the last 30 days, scored 1-5 on recency, frequency and monetary value (quintiles) and grouped into named segments: one row per segment with its size, share and average recency, orders and spend.
--
-- Per customer: recency = days since their last 'Order Completed' (UTC dates), frequency = orders, monetary =
-- sum over orders of properties.revenue, else properties.total, else the sum of price × quantity (quantity 1 when
-- absent) over properties.products[]. Anonymous buyers are left out (no stable id to act on).
-- Scores are quintiles over the customers, ntile(5): 5 is best (most recent, most orders, most spend). Equal values
-- can straddle a quintile boundary; ties are broken by userid so the scores are reproducible.
-- Segments, first match wins (R, F, M are the scores):
--   Champions            R >= 4 and F >= 4 and M >= 4
--   Loyal                R >= 3 and F >= 4
--   New customers        R >= 4 and F <= 2
--   Potential loyalists  R >= 3
--   At risk              F >= 3             (R <= 2: bought often, not lately)
--   Hibernating          R = 2
--   Lost                 everyone else      (R = 1, F <= 2)
-- For one row per customer instead, end the query with: SELECT * FROM segmented ORDER BY userid
WITH received AS (
  SELECT messageid, userid, "timestamp", properties,
         -- The lake is at-least-once: the same event can sit in several objects. Number the copies, keep the first.
         row_number() OVER (PARTITION BY messageid ORDER BY receivedat, dt, hour) AS copy
  FROM events
  -- Partition pruning: dt is the UTC day the event was received.
  WHERE dt >= CAST(CAST(current_date - INTERVAL '30' DAY AS DATE) AS VARCHAR)
    AND type = 'track'
    AND event = 'Order Completed'
    AND userid IS NOT NULL
),
orders AS (
  SELECT messageid, userid, properties,
         CAST(from_iso8601_timestamp("timestamp") AS DATE) AS day
  FROM received
  WHERE copy = 1
    AND CAST(from_iso8601_timestamp("timestamp") AS DATE) >= CAST(current_date - INTERVAL '30' DAY AS DATE)
),
-- Value of each order's products[], for orders that give neither revenue nor total.
line_values AS (
  SELECT o.messageid,
         sum(coalesce(TRY_CAST(json_extract_scalar(t.product, '$.price') AS DOUBLE), 0)
             * coalesce(TRY_CAST(json_extract_scalar(t.product, '$.quantity') AS DOUBLE), 1)) AS value
  FROM orders o
  CROSS JOIN UNNEST(TRY_CAST(json_extract(o.properties, '$.products') AS ARRAY(JSON))) AS t(product)
  GROUP BY o.messageid
),
order_values AS (
  SELECT o.userid, o.day,
         coalesce(TRY_CAST(json_extract_scalar(o.properties, '$.revenue') AS DOUBLE),
                  TRY_CAST(json_extract_scalar(o.properties, '$.total') AS DOUBLE),
                  l.value, 0) AS value
  FROM orders o LEFT JOIN line_values l ON l.messageid = o.messageid
),
customers AS (
  SELECT userid,
         date_diff('day', max(day), current_date) AS recency_days,
         count(*) AS orders,
         sum(value) AS monetary
  FROM order_values
  GROUP BY userid
),
scored AS (
  SELECT userid, recency_days, orders, monetary,
         ntile(5) OVER (ORDER BY recency_days DESC, userid) AS r,
         ntile(5) OVER (ORDER BY orders, userid) AS f,
         ntile(5) OVER (ORDER BY monetary, userid) AS m
  FROM customers
),
segmented AS (
  SELECT userid, recency_days, orders, monetary, r, f, m,
         CASE
           WHEN r >= 4 AND f >= 4 AND m >= 4 THEN 'Champions'
           WHEN r >= 3 AND f >= 4 THEN 'Loyal'
           WHEN r >= 4 AND f <= 2 THEN 'New customers'
           WHEN r >= 3 THEN 'Potential loyalists'
           WHEN f >= 3 THEN 'At risk'
           WHEN r = 2 THEN 'Hibernating'
           ELSE 'Lost'
         END AS segment
  FROM scored
)
SELECT segment,
       count(*) AS customers,
       round(CAST(count(*) AS DOUBLE) / sum(count(*)) OVER (), 4) AS share,
       round(avg(recency_days), 2) AS avg_recency_days,
       round(avg(orders), 2) AS avg_orders,
       round(avg(monetary), 2) AS avg_monetary,
       round(sum(monetary), 2) AS total_monetary
FROM segmented
GROUP BY segment
ORDER BY CASE segment
           WHEN 'Champions' THEN 1 WHEN 'Loyal' THEN 2 WHEN 'New customers' THEN 3 WHEN 'Potential loyalists' THEN 4
           WHEN 'At risk' THEN 5 WHEN 'Hibernating' THEN 6 ELSE 7
         END
