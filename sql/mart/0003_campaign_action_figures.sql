-- The figures each optimize-campaigns decision was judged on, beside the action, so the
-- kill/scale board shows why without a join back to the lake. Grain unchanged: one row per
-- campaign segment (campaign × country × device platform) and decision day.
ALTER TABLE mart.campaign_actions
    ADD COLUMN campaign_name            TEXT,
    ADD COLUMN country                  TEXT,
    ADD COLUMN device_platform          TEXT,
    ADD COLUMN recommendation           TEXT,       -- scale, watch, pause
    ADD COLUMN spend_usd                NUMERIC(14,2),
    ADD COLUMN installs                 BIGINT,
    ADD COLUMN cpi_usd                  NUMERIC(10,4),
    ADD COLUMN predicted_roas_d30       NUMERIC(8,4),
    ADD COLUMN predicted_roas_d30_low   NUMERIC(8,4),
    ADD COLUMN predicted_roas_d30_high  NUMERIC(8,4),
    ADD COLUMN predicted_roas_d180      NUMERIC(8,4),
    ADD COLUMN actual_roas_to_date      NUMERIC(8,4),
    ADD COLUMN payback_days             INTEGER,
    ADD COLUMN attempts                 INTEGER;

COMMENT ON COLUMN mart.campaign_actions.status IS
    'proposed (not sent), applying (sent, answer not recorded), applied, failed, deferred (platform limit), manual (no API), no_change';
