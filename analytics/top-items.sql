-- title: Top items
-- description: The 100 items of the last 30 days with the most units ordered: product views, cart adds, orders, units and revenue per item, from Product Viewed, Product Added and each line of Order Completed's products[].
--
-- The item id is the first present of product_id, productId, sku, id (Segment e-commerce spec and common
-- variants), in the event's properties for views and adds, in each element of properties.products for orders.
-- A line's units are its quantity (1 when absent), its revenue price × quantity (0 when the price is absent).
WITH received AS (
  SELECT messageid, event, "timestamp", properties,
         -- The lake is at-least-once: the same event can sit in several objects. Number the copies, keep the first.
         row_number() OVER (PARTITION BY messageid ORDER BY receivedat, dt, hour) AS copy
  FROM events
  -- Partition pruning: dt is the UTC day the event was received.
  WHERE dt >= CAST(CAST(current_date - INTERVAL '30' DAY AS DATE) AS VARCHAR)
    AND type = 'track'
    AND event IN ('Product Viewed', 'Product Added', 'Order Completed')
),
commerce AS (
  SELECT messageid, event, properties
  FROM received
  WHERE copy = 1
    AND CAST(from_iso8601_timestamp("timestamp") AS DATE) >= CAST(current_date - INTERVAL '30' DAY AS DATE)
),
-- One row per product: the properties themselves for a view or an add, each element of products[] for an order.
-- json_parse: properties is varchar text in Athena, and both branches must be JSON values.
lines AS (
  SELECT messageid, event, json_parse(properties) AS product
  FROM commerce
  WHERE event IN ('Product Viewed', 'Product Added')
  UNION ALL
  SELECT c.messageid, c.event, t.product
  FROM commerce c
  -- TRY_CAST: an order whose products is missing or not an array has no lines (UNNEST of NULL gives no rows).
  CROSS JOIN UNNEST(TRY_CAST(json_extract(c.properties, '$.products') AS ARRAY(JSON))) AS t(product)
  WHERE c.event = 'Order Completed'
),
items AS (
  SELECT messageid, event,
         coalesce(json_extract_scalar(product, '$.product_id'), json_extract_scalar(product, '$.productId'),
                  json_extract_scalar(product, '$.sku'), json_extract_scalar(product, '$.id')) AS item_id,
         coalesce(TRY_CAST(json_extract_scalar(product, '$.quantity') AS DOUBLE), 1) AS quantity,
         coalesce(TRY_CAST(json_extract_scalar(product, '$.price') AS DOUBLE), 0) AS price
  FROM lines
)
SELECT item_id,
       count_if(event = 'Product Viewed') AS views,
       count_if(event = 'Product Added') AS adds,
       count(DISTINCT CASE WHEN event = 'Order Completed' THEN messageid END) AS orders,
       sum(CASE WHEN event = 'Order Completed' THEN quantity ELSE 0 END) AS units,
       round(sum(CASE WHEN event = 'Order Completed' THEN price * quantity ELSE 0 END), 2) AS revenue
FROM items
WHERE item_id IS NOT NULL
GROUP BY item_id
ORDER BY units DESC, revenue DESC, views DESC, item_id
LIMIT 100
