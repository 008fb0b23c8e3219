-- The mart's tables: Gold, denormalised for Tableau. load-mart keeps them in step with Gold.
-- A released migration is never edited (sqlx refuses a changed checksum): change the mart
-- with a new numbered file.

CREATE SCHEMA IF NOT EXISTS mart;

-- Grain: one row per player (game_name, player_id), in the partition of their install day.
-- The design's columns, plus install_ts (live board), is_minor, lifetime_revenue and
-- days_observed. actual_roas_d30 is NUMERIC(12,4), not the design's (8,4): one whale on a
-- cheap install passes 9,999x. Predictions stay null until score-ltv writes them.
CREATE TABLE mart.player_analytics_daily (
    player_id                TEXT          NOT NULL,
    acquisition_date         DATE          NOT NULL,
    campaign_id              TEXT,
    adset_id                 TEXT,
    creative_id              TEXT,

    game_name                TEXT          NOT NULL,
    country                  TEXT,
    platform                 TEXT,
    device_category          TEXT,
    acquisition_channel      TEXT,
    ad_network               TEXT,
    campaign_name            TEXT,

    d0_sessions              INTEGER,
    d0_minutes_played        INTEGER,
    d0_iap_revenue           NUMERIC(12,4),
    d0_ad_revenue            NUMERIC(12,4),
    d1_retention             BOOLEAN,
    d3_retention             BOOLEAN,
    d7_retention             BOOLEAN,
    d7_total_revenue         NUMERIC(12,4),
    d7_iap_revenue           NUMERIC(12,4),

    predicted_ltv_d7         NUMERIC(12,4),
    predicted_ltv_d30        NUMERIC(12,4),
    predicted_ltv_d180       NUMERIC(12,4),
    ltv_confidence           NUMERIC(4,3),

    cumulative_revenue_d30   NUMERIC(12,4),
    cumulative_revenue_d90   NUMERIC(12,4),
    cumulative_revenue_d180  NUMERIC(12,4),
    last_active_date         DATE,

    install_cost_usd         NUMERIC(10,4),
    predicted_roas_d30       NUMERIC(12,4),
    actual_roas_d30          NUMERIC(12,4),

    is_whale                 BOOLEAN,
    is_payer                 BOOLEAN,
    churn_risk_score         NUMERIC(4,3),
    predicted_churn_d7       BOOLEAN,

    install_ts               TIMESTAMPTZ,
    is_minor                 BOOLEAN,
    lifetime_revenue         NUMERIC(12,4),
    days_observed            INTEGER,

    updated_at               TIMESTAMP     DEFAULT CURRENT_TIMESTAMP,
    prediction_version       TEXT,
    PRIMARY KEY (acquisition_date, game_name, player_id)
) PARTITION BY RANGE (acquisition_date);
-- Monthly partitions (mart.player_analytics_daily_yYYYYmMM) are created by load-mart as
-- cohorts arrive. The design's CLUSTER ON and CONCURRENTLY do not apply to a partitioned
-- parent; these indexes cascade to every partition.
CREATE INDEX idx_acquisition_channel ON mart.player_analytics_daily (acquisition_date, acquisition_channel);
CREATE INDEX idx_campaign ON mart.player_analytics_daily (campaign_name);
CREATE INDEX idx_player ON mart.player_analytics_daily (player_id);

-- Grain: one row per campaign and install day (gold.campaign_daily): that day's spend and
-- installs, and the revenue those installs earned by day N.
CREATE TABLE mart.campaign_daily (
    install_date         DATE          NOT NULL,
    game_name            TEXT          NOT NULL,
    campaign_id          TEXT          NOT NULL,
    campaign_name        TEXT,
    acquisition_channel  TEXT          NOT NULL,
    ad_network           TEXT,
    spend_usd            NUMERIC(14,4) NOT NULL,
    installs             INTEGER       NOT NULL,
    network_installs     INTEGER       NOT NULL,
    cpi_usd              NUMERIC(10,4),
    revenue_d0           NUMERIC(14,4) NOT NULL,
    revenue_d1           NUMERIC(14,4) NOT NULL,
    revenue_d3           NUMERIC(14,4) NOT NULL,
    revenue_d7           NUMERIC(14,4) NOT NULL,
    revenue_d14          NUMERIC(14,4) NOT NULL,
    revenue_d30          NUMERIC(14,4) NOT NULL,
    roas_d0              NUMERIC(12,4),
    roas_d1              NUMERIC(12,4),
    roas_d3              NUMERIC(12,4),
    roas_d7              NUMERIC(12,4),
    roas_d14             NUMERIC(12,4),
    roas_d30             NUMERIC(12,4),
    payback_day          INTEGER,
    days_observed        INTEGER       NOT NULL,
    updated_at           TIMESTAMP     DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (install_date, game_name, campaign_id)
);

-- Grain: one row per install cohort (game, install day) and day N, 0..180: retention both
-- ways. Day N is mature once it has fully happened.
CREATE TABLE mart.cohort_retention (
    cohort_date          DATE          NOT NULL,
    game_name            TEXT          NOT NULL,
    day_n                INTEGER       NOT NULL,
    installs             INTEGER       NOT NULL,
    retained_calendar    INTEGER       NOT NULL,
    retention_calendar   DOUBLE PRECISION NOT NULL,
    retained_24h         INTEGER       NOT NULL,
    retention_24h        DOUBLE PRECISION NOT NULL,
    is_mature            BOOLEAN       NOT NULL,
    updated_at           TIMESTAMP     DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (cohort_date, game_name, day_n)
);

-- Grain: one row per install cohort (game, install day) and day N, 0..180: revenue to date.
CREATE TABLE mart.cohort_ltv (
    cohort_date          DATE          NOT NULL,
    game_name            TEXT          NOT NULL,
    day_n                INTEGER       NOT NULL,
    installs             INTEGER       NOT NULL,
    cumulative_revenue   NUMERIC(14,4) NOT NULL,
    revenue_per_install  NUMERIC(12,4) NOT NULL,
    payers_to_date       INTEGER       NOT NULL,
    is_mature            BOOLEAN       NOT NULL,
    updated_at           TIMESTAMP     DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (cohort_date, game_name, day_n)
);

-- Grain: one row per game and activity day (gold.kpi_daily). Rates are fractions (0..1).
CREATE TABLE mart.kpi_daily (
    activity_date              DATE          NOT NULL,
    game_name                  TEXT          NOT NULL,
    dau                        INTEGER       NOT NULL,
    installs                   INTEGER       NOT NULL,
    d1_retention               DOUBLE PRECISION,
    d7_retention               DOUBLE PRECISION,
    d30_retention              DOUBLE PRECISION,
    tutorial_completion_rate   DOUBLE PRECISION,
    level_1_5_completion_rate  DOUBLE PRECISION,
    core_loop_stickiness       DOUBLE PRECISION,
    revenue_usd                NUMERIC(14,4) NOT NULL,
    arpdau                     NUMERIC(12,4),
    arppu                      NUMERIC(12,4),
    iap_conversion             DOUBLE PRECISION,
    whale_revenue_share        DOUBLE PRECISION,
    offer_conversion_rate      DOUBLE PRECISION,
    rewarded_ecpm              NUMERIC(12,4),
    ad_view_through_rate       DOUBLE PRECISION,
    crash_free_sessions        DOUBLE PRECISION,
    personalization_opt_in     DOUBLE PRECISION,
    golden_event_completeness  DOUBLE PRECISION,
    freshness_p99_seconds      DOUBLE PRECISION,
    updated_at                 TIMESTAMP     DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (activity_date, game_name)
);

-- Grain: one row per decision of optimize-campaigns (the action ledger). The idempotency key
-- makes a replayed decision the same row.
CREATE TABLE mart.campaign_actions (
    idempotency_key      TEXT          PRIMARY KEY,
    run_id               TEXT          NOT NULL,
    decided_on           DATE          NOT NULL,
    game_name            TEXT,
    platform             TEXT          NOT NULL,   -- meta, google, tiktok, ironsource
    campaign_id          TEXT,
    object_id            TEXT          NOT NULL,
    action               TEXT          NOT NULL,   -- pause, scale_budget, set_bid, keep
    old_value            TEXT,
    new_value            TEXT,
    reason               TEXT          NOT NULL,
    status               TEXT          NOT NULL,   -- proposed, applied, failed, dry_run
    response             TEXT,
    updated_at           TIMESTAMP     DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX idx_campaign_actions_campaign ON mart.campaign_actions (campaign_id, decided_on);

-- Grain: one row per mart table a load-mart run wrote: which Gold version and days it
-- published, and what changed. `load-mart --changed` starts from the last version loaded.
CREATE TABLE mart.load_log (
    load_id              BIGSERIAL     PRIMARY KEY,
    run_id               TEXT          NOT NULL,
    mart_table           TEXT          NOT NULL,
    gold_table           TEXT          NOT NULL,
    gold_version         BIGINT,
    first_day            DATE,
    last_day             DATE,
    days                 INTEGER       NOT NULL,
    rows_staged          BIGINT        NOT NULL,
    rows_inserted        BIGINT        NOT NULL,
    rows_updated         BIGINT        NOT NULL,
    rows_deleted         BIGINT        NOT NULL,
    loaded_at            TIMESTAMPTZ   NOT NULL DEFAULT now()
);
CREATE INDEX idx_load_log_table ON mart.load_log (mart_table, load_id);
