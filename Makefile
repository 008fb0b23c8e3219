# The LTV lakehouse. `make demo` and `make test` work on a fresh machine.
SHELL := /bin/bash
export CARGO_TARGET_DIR ?= $(HOME)/.cache/ltv-lakehouse/target
BIN := $(CARGO_TARGET_DIR)/debug
RELEASE_BIN := $(CARGO_TARGET_DIR)/release

# The committed fixture studio (tests and CI replay these days).
FIXTURE_FROM := 2026-01-01
FIXTURE_TO := 2026-01-08
FIXTURE_SEED := 42
FIXTURE_INSTALLS := 150

DEMO_OUT := out/demo
DEMO_TO := 2026-03-01
# The demo's mart: a database of its own on the machine's PostgreSQL, recreated by each demo.
DEMO_POSTGRES ?= postgres://postgres@127.0.0.1:5432
DEMO_DATABASE := ltv_demo

.PHONY: build test lint fmt contracts services services-stop demo fixtures train bench clean

build:
	cargo build --bins

## Tests talk to the real broker and object store: `make services` starts them.
test: services
	cargo test

## Kafka-protocol broker (tansu, 127.0.0.1:9092) and S3 API (moto, 127.0.0.1:5000), installed
## from crates.io and PyPI on first use.
services:
	@scripts/services.sh start

services-stop:
	@scripts/services.sh stop

lint:
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings

fmt:
	cargo fmt

## Lint the data contracts and check them against the previous commit (BACKWARD_TRANSITIVE).
CONTRACTS_BASE ?= HEAD~1
contracts: build
	$(BIN)/check-contracts lint
	@if git rev-parse -q --verify "$(CONTRACTS_BASE)^{commit}" >/dev/null; then \
		$(BIN)/check-contracts compat --base $(CONTRACTS_BASE); \
	else echo "no $(CONTRACTS_BASE) to compare contracts with"; fi

## Regenerate the committed fixture studio (after changing the generator).
fixtures: build
	rm -rf fixtures/studio
	$(BIN)/gen-fixtures --from $(FIXTURE_FROM) --to $(FIXTURE_TO) --seed $(FIXTURE_SEED) \
		--installs-per-day $(FIXTURE_INSTALLS) --gzip --out fixtures/studio

## The whole chain once on a generated studio of 60 days (enough history to train pLTV), then a
## short report: installs, retention, pLTV D30 and ROAS by channel, campaigns paused/scaled.
demo: build
	rm -rf $(DEMO_OUT)
	$(BIN)/gen-fixtures --from $(FIXTURE_FROM) --to $(DEMO_TO) --seed $(FIXTURE_SEED) \
		--installs-per-day 120 --out $(DEMO_OUT)/studio --log-format text
	$(BIN)/check-contracts lint --log-format text
	$(BIN)/ingest-drain --source file:$(DEMO_OUT)/studio --date $(DEMO_TO) \
		--lake $(DEMO_OUT)/lake --insecure-dev-key --log-format text
	$(BIN)/bronze-to-silver --date $(DEMO_TO) --lake $(DEMO_OUT)/lake --log-format text
	$(BIN)/silver-to-gold --changed --lake $(DEMO_OUT)/lake --log-format text
	$(BIN)/train-ltv --as-of $(DEMO_TO) --lake $(DEMO_OUT)/lake --log-format text >/dev/null
	$(BIN)/score-ltv --date $(DEMO_TO) --lake $(DEMO_OUT)/lake --log-format text >/dev/null
	@# 120 installs a day spread over 18 campaign segments: judge from 20 installs, not 100.
	sed 's/min_installs: 100/min_installs: 20/' config/optimizer.yaml > $(DEMO_OUT)/optimizer.yaml
	$(BIN)/optimize-campaigns --date $(DEMO_TO) --lake $(DEMO_OUT)/lake \
		--config $(DEMO_OUT)/optimizer.yaml --log-format text >/dev/null
	psql "$(DEMO_POSTGRES)/postgres" -qc "DROP DATABASE IF EXISTS $(DEMO_DATABASE) WITH (FORCE)" \
		-c "CREATE DATABASE $(DEMO_DATABASE)"
	DATABASE_URL="$(DEMO_POSTGRES)/$(DEMO_DATABASE)" $(BIN)/load-mart --changed \
		--lake $(DEMO_OUT)/lake --log-format text >/dev/null
	@python3 scripts/studio_report.py $(DEMO_OUT)/studio
	@psql "$(DEMO_POSTGRES)/$(DEMO_DATABASE)" -P footer=off -f scripts/demo_report.sql
	@echo "  Delta tables: $(DEMO_OUT)/lake/{bronze,silver,gold}/  (gold.campaign_actions: the optimizer's ledger)"
	@echo "  Mart: psql $(DEMO_POSTGRES)/$(DEMO_DATABASE) -c '\\dv mart.*'  (the dashboard views)"
	@echo "  Next: make train (the pLTV holdout report), airflow/dags/ (the DAGs), make bench"

## Retrain the pLTV models locally: 60 generated days through Bronze, Silver and Gold, then
## train-ltv with its holdout report (a table here, JSON in $(TRAIN_OUT)/ltv-report.json).
TRAIN_OUT := out/train
TRAIN_TO := 2026-03-01
train: build
	rm -rf $(TRAIN_OUT)
	$(BIN)/gen-fixtures --from $(FIXTURE_FROM) --to $(TRAIN_TO) --seed $(FIXTURE_SEED) \
		--installs-per-day 120 --out $(TRAIN_OUT)/studio --log-format text
	$(BIN)/ingest-drain --source file:$(TRAIN_OUT)/studio --date $(TRAIN_TO) \
		--lake $(TRAIN_OUT)/lake --insecure-dev-key --log-format text
	$(BIN)/bronze-to-silver --date $(TRAIN_TO) --lake $(TRAIN_OUT)/lake --log-format text
	$(BIN)/silver-to-gold --changed --lake $(TRAIN_OUT)/lake --log-format text
	$(BIN)/train-ltv --lake $(TRAIN_OUT)/lake --report $(TRAIN_OUT)/ltv-report.json \
		--log-format text >/dev/null
	$(BIN)/score-ltv --lake $(TRAIN_OUT)/lake --date $(TRAIN_TO) --log-format text

## Benchmarks: release build, figures printed.
bench: services
	cargo build --release --bins --example produce_fixtures --example synthetic_gold --example ltv_bench
	@scripts/bench_gen_fixtures.sh $(RELEASE_BIN)/gen-fixtures
	@scripts/bench_ingest.sh $(RELEASE_BIN)
	@scripts/bench_medallion.sh $(RELEASE_BIN)
	@scripts/bench_mart.sh $(RELEASE_BIN)
	@$(RELEASE_BIN)/examples/ltv_bench $${BENCH_LTV_PLAYERS:-1000000}

clean:
	rm -rf out lake
