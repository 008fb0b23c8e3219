"""The bench's yardstick: bronze -> silver -> gold of one Bronze ingest day in plain PySpark
(`local[2]`), the way a team without this project would write it.

It reads the same Bronze files as bronze-to-silver and writes Parquet (not Delta: delta-spark's
jars come from Maven, which these machines do not reach). It does a subset of the Rust stages'
work, so the comparison flatters PySpark:
- Silver: the events' JSON parsed, the global contract's required fields, enums and ranges and
  the revenue minimum checked (failures written as rejects with their reason), consent applied,
  re-sent events dropped (first arrival kept), installs deduplicated and mapped to their game,
  events enriched with their player's acquisition (install time, day numbers, source, campaign);
- Gold: fact_player_daily, ltv_cohorts (calendar retention and revenue per install, day 0-30),
  campaign_daily (spend, installs, revenue and ROAS D0-D30) and a few daily KPIs.
Not done here: per-event property contracts, 24-hour retention, player lifecycle, dims, the
golden-event completeness and most KPIs, MERGE into existing tables.

usage: bench_medallion_pyspark.py LAKE INGEST_DATE OUT STUDIO_YAML
"""

import sys
import time

from pyspark.sql import SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

lake, ingest_date, out, studio_yaml = sys.argv[1:5]
KNOWN_EVENTS = [
    "ad_impression", "ad_reward_granted", "ad_reward_requested", "crash", "daily_login",
    "game_background", "game_closed", "game_foreground", "game_launched", "iap_completed",
    "iap_initiated", "level_complete", "level_fail", "level_start", "match_end", "match_start",
    "offer_purchased", "offer_viewed", "player_report", "tutorial_complete", "tutorial_skip",
    "tutorial_start",
]
SESSION_STARTS = ["game_launched", "game_foreground", "daily_login"]
PLATFORMS = ["ios", "android", "pc", "console"]
CONNECTIONS = ["wifi", "2g", "3g", "4g", "5g", "ethernet", "offline"]
DAY_NS = [0, 1, 3, 7, 14, 30]


def app_games(path):
    """app id -> game title, from the studio config (a two-level YAML list, read by hand)."""
    games, title = {}, None
    for line in open(path):
        line = line.strip()
        if line.startswith("- title:"):
            title = line.split(":", 1)[1].strip()
        elif line.startswith("app_ids:") and title:
            for app in line.split(":", 1)[1].strip(" []").split(","):
                games[app.strip()] = title
    return games


started = time.time()
spark = (
    SparkSession.builder.master("local[2]")
    .appName("bench-medallion")
    .config("spark.driver.memory", "4g")
    .config("spark.sql.shuffle.partitions", "8")
    .config("spark.sql.session.timeZone", "UTC")
    .config("spark.ui.enabled", "false")
    .getOrCreate()
)
spark.sparkContext.setLogLevel("ERROR")


def bronze(table):
    return spark.read.parquet(f"{lake}/bronze/{table}").where(
        F.col("ingest_date") == F.lit(ingest_date).cast("date")
    )


# --- Silver -------------------------------------------------------------------------------
event_json = T.StructType(
    [T.StructField(name, T.StringType()) for name in [
        "event_id", "eternal_player_id", "anonymous_id", "event_name", "game_title", "platform",
        "country_code", "session_id", "app_version", "level_id", "item_id", "currency",
    ]]
    + [T.StructField("event_timestamp", T.LongType())]
    + [T.StructField(name, T.BooleanType()) for name in [
        "is_minor", "consent_analytics", "consent_personalization",
    ]]
    + [T.StructField(name, T.DoubleType()) for name in [
        "revenue_usd", "price_usd", "session_duration_seconds", "time_spent_seconds",
    ]]
    + [
        T.StructField("device", T.StructType([T.StructField(n, T.StringType()) for n in [
            "os_version", "device_model", "locale", "timezone"]])),
        T.StructField("network", T.StructType([T.StructField(n, T.StringType()) for n in [
            "carrier", "connection_type"]])),
        T.StructField("attribution", T.StructType([T.StructField(n, T.StringType()) for n in [
            "campaign_source", "install_referrer"]])),
        T.StructField("consent", T.StructType([
            T.StructField("analytics_consent", T.BooleanType()),
            T.StructField("personalization_consent", T.BooleanType()),
            T.StructField("consent_timestamp", T.LongType())])),
    ]
)
raw = bronze("game_events").withColumn("j", F.from_json("raw_json", event_json))
j = F.col("j")
required = ["event_id", "eternal_player_id", "anonymous_id", "event_name", "event_timestamp",
            "game_title", "platform", "country_code", "session_id", "app_version", "is_minor",
            "consent_analytics", "consent_personalization"]
checks = (
    [(j.isNull(), "not_json")]
    + [(j[field].isNull(), f"required:{field}") for field in required]
    + [
        (~j["event_name"].isin(KNOWN_EVENTS), "unknown_event"),
        (~j["platform"].isin(PLATFORMS), "enum:platform"),
        (~j["network"]["connection_type"].isin(CONNECTIONS), "enum:connection_type"),
        (j["device"]["os_version"].isNull() | j["device"]["locale"].isNull(), "required:device"),
        (j["consent"]["consent_timestamp"] < 0, "minimum:consent_timestamp"),
        (j["event_timestamp"] < 1262304000000, "minimum:event_timestamp"),
        (j["event_timestamp"] > (F.col("ingest_ts").cast("long") + 86400) * 1000,
         "future_timestamp"),
        (j["revenue_usd"] < 0, "minimum:revenue_usd"),
        (j["time_spent_seconds"] > 7200, "maximum:time_spent_seconds"),
        (j["country_code"].rlike("^[A-Za-z]{2}$") == F.lit(False), "pattern:country_code"),
    ]
)
reason = F.coalesce(*[F.when(failed, F.lit(rule)) for failed, rule in checks])
judged = raw.withColumn("reject_reason", reason).cache()
judged.where(F.col("reject_reason").isNotNull()).select(
    "event_id", "reject_reason", "raw_json", "source", "source_offset"
).write.mode("overwrite").parquet(f"{out}/silver/rejects")

first_arrival = Window.partitionBy("game_id", "player_id", "event_id").orderBy(
    "ingest_ts", "source", "source_offset")
events = (
    judged.where(F.col("reject_reason").isNull() & j["consent_analytics"])
    .withColumn("arrival", F.row_number().over(first_arrival))
    .where(F.col("arrival") == 1)
    .select(
        "event_id", "player_id", "game_id", "event_type", "event_timestamp",
        F.to_date("event_timestamp").alias("event_date"), "session_id",
        F.col("session_duration").alias("session_duration_s"), "level",
        F.coalesce("iap_revenue", F.lit(0.0)).alias("iap_revenue_usd"),
        F.coalesce("ad_revenue", F.lit(0.0)).alias("ad_revenue_usd"),
        F.col("device_type").alias("platform"),
        F.upper("country").alias("country_code"),
        j["app_version"].alias("app_version"), j["is_minor"].alias("is_minor"),
        j["consent_personalization"].alias("consent_personalization"),
    )
    .withColumn("revenue_usd", F.col("iap_revenue_usd") + F.col("ad_revenue_usd"))
)

games = spark.createDataFrame(list(app_games(studio_yaml).items()), ["app_id", "game_id"])
installs = (
    bronze("attribution")
    .where(F.col("install_id").isNotNull() & F.col("player_id").isNotNull())
    .join(games, "app_id")
    .withColumn("arrival", F.row_number().over(
        Window.partitionBy("install_id").orderBy("ingest_ts", "source", "source_offset")))
    .where(F.col("arrival") == 1)
)
installs.drop("raw_json").write.mode("overwrite").parquet(f"{out}/silver/attribution_installs")
earliest_install = Window.partitionBy("game_id", "player_id").orderBy(
    "install_timestamp", "install_id")
attributed = (
    installs.withColumn("n", F.row_number().over(earliest_install)).where(F.col("n") == 1)
    .select("game_id", "player_id", "install_id", "media_source", "campaign_id", "adset_id",
            F.col("install_timestamp").alias("attributed_install_ts"))
)
first_seen = events.groupBy("game_id", "player_id").agg(
    F.min("event_timestamp").alias("first_seen_ts"), F.max("is_minor").alias("is_minor_any"))
players = (
    first_seen.join(attributed, ["game_id", "player_id"], "left")
    .withColumn("install_ts", F.least("attributed_install_ts", "first_seen_ts"))
    .withColumn("acquisition_date", F.to_date("install_ts"))
    .withColumn("media_source", F.coalesce("media_source", F.lit("organic")))
    .withColumn("is_organic", F.col("install_id").isNull())
)
silver_events = (
    events.join(players.select("game_id", "player_id", "install_ts", "acquisition_date",
                               "media_source", "campaign_id", "adset_id", "is_organic"),
                ["game_id", "player_id"])
    .withColumn("day_number", F.datediff("event_date", "acquisition_date"))
    .withColumn("day_number_24h", F.floor(
        (F.col("event_timestamp").cast("double") - F.col("install_ts").cast("double")) / 86400
    ).cast("int"))
)
silver_events.write.mode("overwrite").partitionBy("event_date").parquet(
    f"{out}/silver/player_events")
players.write.mode("overwrite").parquet(f"{out}/silver/players")
judged.unpersist()

# --- Gold ---------------------------------------------------------------------------------
silver_events = spark.read.parquet(f"{out}/silver/player_events")
is_type = lambda name: F.col("event_type") == name  # noqa: E731
fact = silver_events.groupBy(
    F.col("event_date").alias("activity_date"), "game_id", "player_id", "acquisition_date",
    "day_number", "media_source", "campaign_id",
).agg(
    F.sum(F.when(F.col("event_type").isin(SESSION_STARTS[:2]), 1).otherwise(0)).alias("sessions"),
    (F.sum(F.coalesce("session_duration_s", F.lit(0.0))) / 60).alias("minutes_played"),
    F.sum("iap_revenue_usd").alias("iap_revenue"),
    F.sum("ad_revenue_usd").alias("ad_revenue"),
    F.sum("revenue_usd").alias("total_revenue"),
    F.sum(is_type("iap_completed").cast("long")).alias("iap_purchases"),
    F.sum(is_type("ad_impression").cast("long")).alias("ad_impressions"),
    F.countDistinct(F.when(is_type("level_complete"), F.col("level"))).alias("levels_gained"),
    F.max(F.col("event_type").isin(SESSION_STARTS)).alias("is_active"),
)
to_date = Window.partitionBy("game_id", "player_id").orderBy("activity_date").rowsBetween(
    Window.unboundedPreceding, Window.currentRow)
fact = fact.withColumn("actual_ltv_to_date", F.sum("total_revenue").over(to_date)).cache()
fact.write.mode("overwrite").partitionBy("activity_date").parquet(f"{out}/gold/fact_player_daily")

cohort_players = players.select("game_id", "player_id", "acquisition_date", "media_source",
                                "campaign_id")
installs_per_cohort = cohort_players.groupBy("acquisition_date", "game_id").agg(
    F.count("*").alias("installs"))
day_n = spark.range(0, 31).select(F.col("id").cast("int").alias("day_n"))
active = fact.where("is_active").select("game_id", "player_id", "day_number").distinct()
revenue_by_day = fact.groupBy("acquisition_date", "game_id", "day_number").agg(
    F.sum("total_revenue").alias("revenue"))
cohorts = (
    installs_per_cohort.crossJoin(day_n)
    .join(
        active.join(cohort_players, ["game_id", "player_id"])
        .groupBy("acquisition_date", "game_id", F.col("day_number").alias("day_n"))
        .agg(F.count("*").alias("retained_calendar")),
        ["acquisition_date", "game_id", "day_n"], "left")
    .join(revenue_by_day.withColumnRenamed("day_number", "d"),
          ["acquisition_date", "game_id"], "left")
    .groupBy("acquisition_date", "game_id", "day_n", "installs", "retained_calendar")
    .agg(F.sum(F.when(F.col("d") <= F.col("day_n"), F.col("revenue")).otherwise(0.0))
         .alias("cumulative_revenue"))
    .withColumn("retained_calendar", F.coalesce("retained_calendar", F.lit(0)))
    .withColumn("retention_calendar", F.col("retained_calendar") / F.col("installs"))
    .withColumn("revenue_per_install", F.col("cumulative_revenue") / F.col("installs"))
)
cohorts.write.mode("overwrite").parquet(f"{out}/gold/ltv_cohorts")

spend = (
    bronze("ad_spend")
    .withColumn("latest", F.row_number().over(
        Window.partitionBy("spend_date", "campaign_id", "country_code", "platform")
        .orderBy(F.desc("ingest_ts"), F.desc("source"), F.desc("source_offset"))))
    .where(F.col("latest") == 1)
    .groupBy(F.col("spend_date").alias("install_date"), "campaign_id")
    .agg(F.sum("spend_usd").alias("spend_usd"), F.sum("installs").alias("network_installs"))
)
campaign_revenue = fact.where(F.col("campaign_id").isNotNull()).groupBy(
    F.col("acquisition_date").alias("install_date"), "game_id", "campaign_id", "media_source"
).agg(*[
    F.sum(F.when(F.col("day_number") <= n, F.col("total_revenue")).otherwise(0.0))
    .alias(f"revenue_d{n}") for n in DAY_NS
])
campaign_installs = cohort_players.where(F.col("campaign_id").isNotNull()).groupBy(
    F.col("acquisition_date").alias("install_date"), "game_id", "campaign_id"
).agg(F.count("*").alias("installs"))
campaign = (
    campaign_installs.join(campaign_revenue, ["install_date", "game_id", "campaign_id"], "left")
    .join(spend, ["install_date", "campaign_id"], "left")
    .withColumn("cpi_usd", F.col("spend_usd") / F.col("installs"))
)
for n in DAY_NS:
    campaign = campaign.withColumn(f"roas_d{n}", F.col(f"revenue_d{n}") / F.col("spend_usd"))
campaign.write.mode("overwrite").parquet(f"{out}/gold/campaign_daily")

kpis = fact.groupBy("activity_date", "game_id").agg(
    F.sum(F.col("is_active").cast("long")).alias("dau"),
    F.sum("total_revenue").alias("revenue"),
    F.sum((F.col("iap_purchases") > 0).cast("long")).alias("payers"),
    F.sum("iap_revenue").alias("iap_revenue"),
).withColumn("arpdau", F.col("revenue") / F.col("dau")).withColumn(
    "arppu", F.col("iap_revenue") / F.col("payers"))
kpis.write.mode("overwrite").parquet(f"{out}/gold/kpi_daily")

rows_in = spark.read.parquet(f"{lake}/bronze/game_events").where(
    F.col("ingest_date") == F.lit(ingest_date).cast("date")).count()
print(f"{rows_in} {time.time() - started:.1f}")
spark.stop()
