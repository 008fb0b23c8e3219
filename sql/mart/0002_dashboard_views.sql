-- One view per dashboard of the design. Windows ("last 30 days", "last 4 hours") end at the
-- newest data in the mart, not at the wall clock, so a backfill or a replayed fixture shows
-- the same board as the night it happened. Rates are fractions (0..1).

-- Dashboard 1, God dashboard (AARRR + ROAS). Grain: one row per game and AARRR stage, over
-- the players installed in the 30 days that end at the newest install day. "D30 Retained" is
-- a player active on or after day 30.
CREATE VIEW mart.v_god_overview AS
WITH recent AS (
    SELECT p.*
    FROM mart.player_analytics_daily p
    WHERE p.acquisition_date > (SELECT max(acquisition_date) FROM mart.player_analytics_daily) - 30
),
stages AS (
    SELECT r.game_name, s.stage_order, s.stage, s.reached, r.predicted_ltv_d30,
           r.cumulative_revenue_d30, r.lifetime_revenue
    FROM recent r
    CROSS JOIN LATERAL (VALUES
        (1, 'Acquisition', true),
        (2, 'Activation', coalesce(r.d1_retention, false)),
        (3, 'D7 Retained', coalesce(r.d7_retention, false)),
        (4, 'D30 Retained', coalesce(r.last_active_date >= r.acquisition_date + 30, false)),
        (5, 'Paying', coalesce(r.is_payer, false)),
        (6, 'Whales', coalesce(r.is_whale, false))
    ) AS s (stage_order, stage, reached)
)
-- Every stage appears, with 0 players when nobody reached it yet.
SELECT game_name,
       stage_order,
       stage,
       count(*) FILTER (WHERE reached) AS players,
       count(*) FILTER (WHERE reached)::double precision
           / nullif(lag(count(*) FILTER (WHERE reached))
                        OVER (PARTITION BY game_name ORDER BY stage_order), 0)
           AS share_of_previous,
       avg(predicted_ltv_d30) FILTER (WHERE reached) AS avg_predicted_ltv_d30,
       avg(cumulative_revenue_d30) FILTER (WHERE reached) AS avg_actual_ltv_d30,
       coalesce(sum(lifetime_revenue) FILTER (WHERE reached), 0) AS revenue_to_date
FROM stages
GROUP BY game_name, stage_order, stage;

-- Dashboard 1, its footer. Grain: one row per game, same 30 days: predicted cohort value,
-- revenue realised so far and blended paid ROAS (revenue to date over install cost of paid
-- installs).
CREATE VIEW mart.v_god_totals AS
SELECT game_name,
       min(acquisition_date) AS window_start,
       max(acquisition_date) AS window_end,
       count(*) AS installs,
       sum(predicted_ltv_d180) AS predicted_cohort_value,
       sum(lifetime_revenue) AS realized_revenue,
       sum(lifetime_revenue) / nullif(sum(predicted_ltv_d180), 0) AS realized_share,
       sum(lifetime_revenue) FILTER (WHERE acquisition_channel <> 'organic')
           / nullif(sum(install_cost_usd) FILTER (WHERE acquisition_channel <> 'organic'), 0)
           AS blended_paid_roas
FROM mart.player_analytics_daily
WHERE acquisition_date > (SELECT max(acquisition_date) FROM mart.player_analytics_daily) - 30
GROUP BY game_name;

-- Dashboard 2, LTV waterfall. Grain: one row per game, channel, country and platform, over
-- the 30 install days that end at the newest one.
CREATE VIEW mart.v_ltv_waterfall AS
SELECT game_name,
       acquisition_channel,
       country,
       platform,
       count(*) AS installs,
       avg(predicted_ltv_d30) AS avg_predicted_ltv_d30,
       avg(cumulative_revenue_d30) AS avg_actual_ltv_d30,
       avg(install_cost_usd) AS cpi_usd,
       sum(cumulative_revenue_d30) / nullif(sum(install_cost_usd), 0) AS roas_d30,
       sum(predicted_ltv_d30) / nullif(sum(install_cost_usd), 0) AS predicted_roas_d30
FROM mart.player_analytics_daily
WHERE acquisition_date > (SELECT max(acquisition_date) FROM mart.player_analytics_daily) - 30
GROUP BY game_name, acquisition_channel, country, platform;

-- Dashboard 3, campaign kill/scale board. Grain: one row per campaign, over the 7 install
-- days that end at the newest one in campaign_daily, with its latest optimizer decision.
CREATE VIEW mart.v_campaign_board AS
WITH week AS (
    SELECT *
    FROM mart.campaign_daily
    WHERE install_date > (SELECT max(install_date) FROM mart.campaign_daily) - 7
),
predicted AS (
    SELECT p.game_name, p.campaign_id, sum(p.predicted_ltv_d30) AS predicted_revenue_d30
    FROM mart.player_analytics_daily p
    WHERE p.campaign_id IS NOT NULL
      AND p.acquisition_date > (SELECT max(install_date) FROM mart.campaign_daily) - 7
    GROUP BY p.game_name, p.campaign_id
),
latest_action AS (
    SELECT DISTINCT ON (campaign_id) campaign_id, action, new_value, status, decided_on
    FROM mart.campaign_actions
    WHERE campaign_id IS NOT NULL
    ORDER BY campaign_id, decided_on DESC, updated_at DESC
)
SELECT w.game_name,
       w.campaign_id,
       max(w.campaign_name) AS campaign_name,
       max(w.acquisition_channel) AS acquisition_channel,
       max(w.ad_network) AS ad_network,
       sum(w.spend_usd) AS spend_7d,
       sum(w.installs) AS installs_7d,
       sum(w.spend_usd) / nullif(sum(w.installs), 0) AS cpi_usd,
       sum(w.revenue_d7) / nullif(sum(w.spend_usd), 0) AS roas_d7,
       max(pr.predicted_revenue_d30) / nullif(sum(w.spend_usd), 0) AS predicted_roas_d30,
       max(a.action) AS last_action,
       max(a.new_value) AS last_action_value,
       max(a.status) AS last_action_status,
       max(a.decided_on) AS last_action_on
FROM week w
LEFT JOIN predicted pr ON pr.game_name = w.game_name AND pr.campaign_id = w.campaign_id
LEFT JOIN latest_action a ON a.campaign_id = w.campaign_id
GROUP BY w.game_name, w.campaign_id;

-- Dashboard 4, live board. Grain: one row per game and channel: installs and predicted
-- value added in the 4 hours that end at the newest install, beside the 4 hours before.
CREATE VIEW mart.v_live_last_4h AS
WITH newest AS (
    SELECT max(install_ts) AS at FROM mart.player_analytics_daily
)
SELECT p.game_name,
       p.acquisition_channel,
       count(*) FILTER (WHERE p.install_ts > n.at - interval '4 hours') AS installs,
       count(*) FILTER (WHERE p.install_ts <= n.at - interval '4 hours') AS installs_previous_4h,
       coalesce(sum(p.predicted_ltv_d30) FILTER (WHERE p.install_ts > n.at - interval '4 hours'), 0)
           AS predicted_value_added,
       coalesce(sum(p.predicted_ltv_d30) FILTER (WHERE p.install_ts <= n.at - interval '4 hours'), 0)
           AS predicted_value_previous_4h
FROM mart.player_analytics_daily p
CROSS JOIN newest n
WHERE p.acquisition_date >= ((n.at - interval '8 hours') AT TIME ZONE 'UTC')::date
  AND p.install_ts > n.at - interval '8 hours'
GROUP BY p.game_name, p.acquisition_channel;

-- Dashboard 5, whale rescue and churn alerts. Grain: one row per whale predicted to churn
-- within 7 days (or with a churn risk of at least 0.5). Minors are never whales or targets.
CREATE VIEW mart.v_whale_churn_alerts AS
SELECT player_id,
       game_name,
       country,
       lifetime_revenue AS ltv_to_date,
       greatest(predicted_ltv_d180 - lifetime_revenue, 0) AS predicted_remaining,
       churn_risk_score,
       last_active_date,
       CASE
           WHEN churn_risk_score >= 0.85 THEN 'Personal VIP message'
           WHEN churn_risk_score >= 0.70 THEN 'Send 50% off bundle'
           ELSE 'Exclusive offer in next session'
       END AS recommended_action
FROM mart.player_analytics_daily
WHERE is_whale
  AND NOT coalesce(is_minor, false)
  AND (predicted_churn_d7 OR churn_risk_score >= 0.5);

-- Dashboard 6, tab 1, retention heatmap. Grain: one row per game and install cohort; a day's
-- cell is null until that day is mature. Calendar-day retention (AppsFlyer's).
CREATE VIEW mart.v_cohort_retention_heatmap AS
SELECT cohort_date,
       game_name,
       max(installs) AS installs,
       max(retention_calendar) FILTER (WHERE day_n = 0 AND is_mature) AS day_0,
       max(retention_calendar) FILTER (WHERE day_n = 1 AND is_mature) AS day_1,
       max(retention_calendar) FILTER (WHERE day_n = 3 AND is_mature) AS day_3,
       max(retention_calendar) FILTER (WHERE day_n = 7 AND is_mature) AS day_7,
       max(retention_calendar) FILTER (WHERE day_n = 14 AND is_mature) AS day_14,
       max(retention_calendar) FILTER (WHERE day_n = 30 AND is_mature) AS day_30,
       max(retention_calendar) FILTER (WHERE day_n = 60 AND is_mature) AS day_60,
       max(retention_calendar) FILTER (WHERE day_n = 90 AND is_mature) AS day_90,
       max(retention_calendar) FILTER (WHERE day_n = 180 AND is_mature) AS day_180
FROM mart.cohort_retention
GROUP BY cohort_date, game_name;

-- Dashboard 6, tab 2, LTV heatmap. Grain: one row per game and install cohort: revenue per
-- install by day N (null until mature) and maturity, the share of the 180 days elapsed.
CREATE VIEW mart.v_cohort_ltv_heatmap AS
SELECT cohort_date,
       game_name,
       max(installs) AS installs,
       max(revenue_per_install) FILTER (WHERE day_n = 0 AND is_mature) AS day_0,
       max(revenue_per_install) FILTER (WHERE day_n = 1 AND is_mature) AS day_1,
       max(revenue_per_install) FILTER (WHERE day_n = 7 AND is_mature) AS day_7,
       max(revenue_per_install) FILTER (WHERE day_n = 14 AND is_mature) AS day_14,
       max(revenue_per_install) FILTER (WHERE day_n = 30 AND is_mature) AS day_30,
       max(revenue_per_install) FILTER (WHERE day_n = 60 AND is_mature) AS day_60,
       max(revenue_per_install) FILTER (WHERE day_n = 90 AND is_mature) AS day_90,
       max(revenue_per_install) FILTER (WHERE day_n = 180 AND is_mature) AS day_180,
       (count(*) FILTER (WHERE is_mature) - 1)::double precision / 180 AS maturity
FROM mart.cohort_ltv
GROUP BY cohort_date, game_name;

-- Dashboard 6, tab 3, ROAS and payback grid. Grain: one row per install day and campaign,
-- with the campaign's latest optimizer decision as its status.
CREATE VIEW mart.v_cohort_roas_payback AS
SELECT c.install_date,
       c.game_name,
       c.acquisition_channel,
       c.campaign_id,
       c.campaign_name,
       c.spend_usd,
       c.installs,
       c.cpi_usd,
       c.payback_day,
       c.roas_d7,
       c.roas_d30,
       c.days_observed,
       a.action AS status
FROM mart.campaign_daily c
LEFT JOIN LATERAL (
    SELECT action
    FROM mart.campaign_actions ca
    WHERE ca.campaign_id = c.campaign_id
    ORDER BY ca.decided_on DESC, ca.updated_at DESC
    LIMIT 1
) a ON true;

-- Dashboard 6, tab 4, single-cohort deep dive. Grain: one row per install day, game,
-- channel, country and platform: predicted against realised LTV at D7/D30/D180 and whales.
CREATE VIEW mart.v_cohort_deep_dive AS
SELECT acquisition_date AS cohort_date,
       game_name,
       acquisition_channel,
       country,
       platform,
       count(*) AS installs,
       avg(predicted_ltv_d7) AS predicted_ltv_d7,
       avg(d7_total_revenue) AS actual_ltv_d7,
       avg(predicted_ltv_d30) AS predicted_ltv_d30,
       avg(cumulative_revenue_d30) AS actual_ltv_d30,
       avg(predicted_ltv_d180) AS predicted_ltv_d180,
       avg(cumulative_revenue_d180) AS actual_ltv_d180,
       1 - abs(sum(predicted_ltv_d30) - sum(cumulative_revenue_d30))
           / nullif(sum(cumulative_revenue_d30), 0) AS accuracy_d30,
       avg(CASE WHEN is_whale THEN 1.0 ELSE 0.0 END) AS whale_share,
       min(days_observed) AS days_observed
FROM mart.player_analytics_daily
GROUP BY acquisition_date, game_name, acquisition_channel, country, platform;
