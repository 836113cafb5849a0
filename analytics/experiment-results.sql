-- title: Recommendation experiment results by variant
-- description: Per experiment and variant over the last 30 days: recommendation exposures, click-through and order conversion attributed by recommendation id, attributed revenue, and a two-proportion z-test (two-sided p-value) of each variant's click-through and conversion against the control.
--
-- Exposures: every non-empty response of GET /v1/recommendations writes a track event 'Recommendations Shown'
-- (sourceid 'recommendations-api', messageid 'rec-<recommendation id>') whose properties carry recommendation_id,
-- variant, experiment (absent when no experiment runs: those appear as experiment '(none)', variant 'default'),
-- strategy, model_version and products[]. Clients attribute what follows by sending the same id in the properties
-- of 'Product Clicked', 'Product Added' and 'Order Completed' (recommendation_id, as the API documents; the
-- camelCase recommendationId is accepted too).
-- An exposure is clicked / added / converted when at least one such event carries its id. The id only exists
-- once the response is sent, so every event carrying it came after the exposure; event times are not compared
-- (the client's clock may disagree with the server's).
-- Control: the variant named 'control', else the first variant by name. The z-test pools the two rates; its
-- p-value is 2 × P(Z ≤ -|z|). It treats exposures as independent although one person sees many, so p-values are
-- optimistic when people are exposed repeatedly: compare with the people column and judge accordingly.
WITH received AS (
  SELECT messageid, event, userid, anonymousid, "timestamp", properties,
         -- The lake is at-least-once: the same event can sit in several objects. Number the copies, keep the first.
         row_number() OVER (PARTITION BY messageid ORDER BY receivedat, dt, hour) AS copy
  FROM events
  -- Partition pruning: dt is the UTC day the event was received.
  WHERE dt >= CAST(CAST(current_date - INTERVAL '30' DAY AS DATE) AS VARCHAR)
    AND type = 'track'
    AND event IN ('Recommendations Shown', 'Product Clicked', 'Product Added', 'Order Completed')
),
tracked AS (
  SELECT event, userid, anonymousid, properties
  FROM received
  WHERE copy = 1
    AND CAST(from_iso8601_timestamp("timestamp") AS DATE) >= CAST(current_date - INTERVAL '30' DAY AS DATE)
),
exposures AS (
  SELECT DISTINCT
         json_extract_scalar(properties, '$.recommendation_id') AS recommendation_id,
         coalesce(json_extract_scalar(properties, '$.experiment'), '(none)') AS experiment,
         json_extract_scalar(properties, '$.variant') AS variant,
         coalesce(userid, anonymousid) AS person
  FROM tracked
  WHERE event = 'Recommendations Shown'
),
-- What clients sent back, per recommendation id.
outcomes AS (
  SELECT recommendation_id,
         count_if(event = 'Product Clicked') > 0 AS clicked,
         count_if(event = 'Product Added') > 0 AS added,
         count_if(event = 'Order Completed') > 0 AS ordered,
         sum(CASE WHEN event = 'Order Completed'
                  THEN coalesce(TRY_CAST(json_extract_scalar(properties, '$.revenue') AS DOUBLE),
                                TRY_CAST(json_extract_scalar(properties, '$.total') AS DOUBLE), 0)
                  ELSE 0 END) AS revenue
  FROM (
    SELECT event, properties,
           coalesce(json_extract_scalar(properties, '$.recommendation_id'),
                    json_extract_scalar(properties, '$.recommendationId')) AS recommendation_id
    FROM tracked
    WHERE event <> 'Recommendations Shown'
  ) attributed
  WHERE recommendation_id IS NOT NULL
  GROUP BY recommendation_id
),
variants AS (
  SELECT x.experiment, x.variant,
         count(DISTINCT x.recommendation_id) AS exposures,
         count(DISTINCT x.person) AS people,
         count_if(o.clicked) AS clicks,
         count_if(o.added) AS adds,
         count_if(o.ordered) AS conversions,
         coalesce(sum(o.revenue), 0) AS revenue
  FROM exposures x LEFT JOIN outcomes o ON o.recommendation_id = x.recommendation_id
  WHERE x.recommendation_id IS NOT NULL
  GROUP BY x.experiment, x.variant
),
controls AS (
  SELECT experiment, coalesce(max(CASE WHEN variant = 'control' THEN variant END), min(variant)) AS variant
  FROM variants
  GROUP BY experiment
),
compared AS (
  SELECT v.*,
         v.variant = c.variant AS is_control,
         CAST(v.clicks AS DOUBLE) / v.exposures AS ctr,
         CAST(v.conversions AS DOUBLE) / v.exposures AS conversion_rate,
         CAST(b.clicks AS DOUBLE) / b.exposures AS control_ctr,
         CAST(b.conversions AS DOUBLE) / b.exposures AS control_conversion_rate,
         -- Pooled rates of variant + control, for the z-tests' standard errors.
         CAST(v.clicks + b.clicks AS DOUBLE) / (v.exposures + b.exposures) AS pooled_ctr,
         CAST(v.conversions + b.conversions AS DOUBLE) / (v.exposures + b.exposures) AS pooled_conversion,
         CAST(v.exposures AS DOUBLE) AS n,
         CAST(b.exposures AS DOUBLE) AS control_n
  FROM variants v
  JOIN controls c ON c.experiment = v.experiment
  JOIN variants b ON b.experiment = c.experiment AND b.variant = c.variant
),
tested AS (
  SELECT *,
         -- z = (p_variant - p_control) / sqrt(p(1 - p)(1/n_variant + 1/n_control)); NULL for the control itself,
         -- and when the standard error is 0 (both rates 0 or both 1).
         CASE WHEN NOT is_control THEN
           (ctr - control_ctr) / NULLIF(sqrt(pooled_ctr * (1 - pooled_ctr) * (1 / n + 1 / control_n)), 0)
         END AS ctr_z,
         CASE WHEN NOT is_control THEN
           (conversion_rate - control_conversion_rate)
             / NULLIF(sqrt(pooled_conversion * (1 - pooled_conversion) * (1 / n + 1 / control_n)), 0)
         END AS conversion_z
  FROM compared
)
SELECT experiment, variant, is_control, exposures, people,
       clicks, round(ctr, 4) AS ctr, round(ctr - control_ctr, 4) AS ctr_vs_control,
       round(ctr_z, 3) AS ctr_z, round(2 * normal_cdf(0, 1, -abs(ctr_z)), 4) AS ctr_p_value,
       adds,
       conversions, round(conversion_rate, 4) AS conversion_rate,
       round(conversion_rate - control_conversion_rate, 4) AS conversion_vs_control,
       round(conversion_z, 3) AS conversion_z, round(2 * normal_cdf(0, 1, -abs(conversion_z)), 4) AS conversion_p_value,
       round(revenue, 2) AS attributed_revenue
FROM tested
ORDER BY experiment, is_control DESC, variant
