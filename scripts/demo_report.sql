-- The report `make demo` prints, read from the mart as Tableau would.
\echo
\echo 'By channel (mart.player_analytics_daily): retention of players old enough, pLTV D30, ROAS'
SELECT acquisition_channel AS channel,
       count(*) AS installs,
       round(100.0 * avg(d1_retention::int) FILTER (WHERE days_observed >= 1), 1) AS d1_pct,
       round(100.0 * avg(d7_retention::int) FILTER (WHERE days_observed >= 7), 1) AS d7_pct,
       round(avg(predicted_ltv_d30), 2) AS pltv_d30,
       round(sum(install_cost_usd), 0) AS spend_usd,
       round(sum(cumulative_revenue_d30) FILTER (WHERE days_observed >= 30)
             / nullif(sum(install_cost_usd) FILTER (WHERE days_observed >= 30), 0), 2) AS roas_d30,
       round(sum(predicted_ltv_d30) / nullif(sum(install_cost_usd), 0), 2) AS proas_d30
FROM mart.player_analytics_daily
GROUP BY acquisition_channel
ORDER BY installs DESC;

\echo 'Campaign decisions (mart.campaign_actions; optimize-campaigns --apply would send them)'
SELECT decided_on,
       recommendation,
       count(*) AS segments,
       string_agg(campaign_name || ' ' || coalesce(new_value, ''), ', ' ORDER BY campaign_name) AS campaigns
FROM mart.campaign_actions
GROUP BY decided_on, recommendation
ORDER BY decided_on, recommendation;
