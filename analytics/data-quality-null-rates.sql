-- title: Data quality: missing key fields
-- description: For each key field over the events received in the last 30 days (de-duplicated): how many events it applies to, how many lack it, the rate, and whether it must never be missing (ingest guarantees it) or is informational.
--
-- "Missing" is NULL or absent. Fields ingest guarantees (must_be_zero = true) signal a pipeline bug when not 0:
-- something wrote to the stream without going through ingest. The others describe how clients instrument:
-- e.g. a high anonymousid rate is normal for a logged-in app, a product event without a product id is useless
-- for recommendations.
WITH received AS (
  SELECT *,
         row_number() OVER (PARTITION BY messageid ORDER BY receivedat, dt, hour) AS copy
  FROM events
  -- Partition pruning: dt is the UTC day the event was received.
  WHERE dt >= CAST(CAST(current_date - INTERVAL '30' DAY AS DATE) AS VARCHAR)
),
-- One row per event. Rows without a messageid cannot be de-duplicated: each is kept (and counted below).
deduplicated AS (
  SELECT * FROM received WHERE copy = 1 OR messageid IS NULL
),
product_events AS (
  SELECT * FROM deduplicated
  WHERE type = 'track' AND event IN ('Product Viewed', 'Product Clicked', 'Product Added', 'Product Removed')
),
orders AS (
  SELECT * FROM deduplicated WHERE type = 'track' AND event = 'Order Completed'
),
order_lines AS (
  SELECT t.product
  FROM orders o
  CROSS JOIN UNNEST(TRY_CAST(json_extract(o.properties, '$.products') AS ARRAY(JSON))) AS t(product)
),
checks AS (
  SELECT 1 AS check_order, 'messageid' AS field, 'all events' AS scope, true AS must_be_zero,
         count(*) AS applicable, count_if(messageid IS NULL) AS missing FROM deduplicated
  UNION ALL
  SELECT 2, 'userid and anonymousid (both)', 'all events', true,
         count(*), count_if(userid IS NULL AND anonymousid IS NULL) FROM deduplicated
  UNION ALL
  SELECT 3, 'timestamp', 'all events', true, count(*), count_if("timestamp" IS NULL) FROM deduplicated
  UNION ALL
  SELECT 4, 'receivedat', 'all events', true, count(*), count_if(receivedat IS NULL) FROM deduplicated
  UNION ALL
  SELECT 5, 'sourceid', 'all events', true, count(*), count_if(sourceid IS NULL) FROM deduplicated
  UNION ALL
  SELECT 6, 'event', 'track events', true, count(*), count_if(event IS NULL) FROM deduplicated WHERE type = 'track'
  UNION ALL
  SELECT 7, 'userid', 'all events', false, count(*), count_if(userid IS NULL) FROM deduplicated
  UNION ALL
  SELECT 8, 'anonymousid', 'all events', false, count(*), count_if(anonymousid IS NULL) FROM deduplicated
  UNION ALL
  SELECT 9, 'context', 'all events', false, count(*), count_if(context IS NULL) FROM deduplicated
  UNION ALL
  SELECT 10, 'properties', 'track events', false, count(*), count_if(properties IS NULL) FROM deduplicated WHERE type = 'track'
  UNION ALL
  SELECT 11, 'product id (product_id, productId, sku or id)', 'Product Viewed/Clicked/Added/Removed events', false,
         count(*),
         count_if(coalesce(json_extract_scalar(properties, '$.product_id'), json_extract_scalar(properties, '$.productId'),
                           json_extract_scalar(properties, '$.sku'), json_extract_scalar(properties, '$.id')) IS NULL)
  FROM product_events
  UNION ALL
  -- json_array_length is NULL for a non-array in Trino and 0 in DuckDB: coalesce makes both "no products".
  SELECT 12, 'products (missing or empty)', 'Order Completed events', false,
         count(*), count_if(coalesce(json_array_length(json_extract(properties, '$.products')), 0) = 0) FROM orders
  UNION ALL
  SELECT 13, 'revenue and total (both)', 'Order Completed events', false,
         count(*),
         count_if(json_extract_scalar(properties, '$.revenue') IS NULL AND json_extract_scalar(properties, '$.total') IS NULL)
  FROM orders
  UNION ALL
  SELECT 14, 'product id (product_id, productId, sku or id)', 'Order Completed products[] lines', false,
         count(*),
         count_if(coalesce(json_extract_scalar(product, '$.product_id'), json_extract_scalar(product, '$.productId'),
                           json_extract_scalar(product, '$.sku'), json_extract_scalar(product, '$.id')) IS NULL)
  FROM order_lines
)
SELECT field, scope, must_be_zero, applicable, missing,
       round(CAST(missing AS DOUBLE) / NULLIF(applicable, 0), 4) AS missing_rate
FROM checks
ORDER BY check_order
