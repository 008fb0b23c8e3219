#!/usr/bin/env python3
"""Prints a short report of a generated studio from its ground truth and ad spend.

Usage: studio_report.py STUDIO_DIR
"""
import csv
import gzip
import sys
from collections import defaultdict
from pathlib import Path


def open_text(path: Path):
    if path.exists():
        return open(path, newline="")
    return gzip.open(str(path) + ".gz", "rt", newline="")


def main(studio: Path) -> None:
    with open_text(studio / "ground_truth.csv") as handle:
        players = list(csv.DictReader(handle))
    total = len(players)
    if not total:
        sys.exit(f"{studio}: no players")

    def share(column: str) -> float:
        return sum(p[column] == "true" for p in players) / total

    payers = sum(p["first_purchase_day"] != "" for p in players) / total
    print(f"\nStudio in {studio}: {total:,} installs")
    print(f"  D1 {share('active_d1'):.1%}   D7 {share('active_d7'):.1%}   D30 {share('active_d30'):.1%}   payers by D180 {payers:.1%}")
    print("\n  True ROAS by channel (ground truth, revenue / install cost):")
    by_channel = defaultdict(lambda: [0, 0.0, 0.0, 0.0])
    for p in players:
        if not p["install_cost_usd"]:
            continue
        entry = by_channel[p["media_source"]]
        entry[0] += 1
        entry[1] += float(p["install_cost_usd"])
        entry[2] += float(p["revenue_d30"])
        entry[3] += float(p["revenue_d180"])
    print(f"  {'media source':20} {'installs':>8} {'CPI':>6} {'ROAS D30':>9} {'ROAS D180':>10}")
    for source, (count, cost, d30, d180) in sorted(by_channel.items(), key=lambda kv: -kv[1][2] / kv[1][1]):
        print(f"  {source:20} {count:8,} {cost / count:6.2f} {d30 / cost:9.2f} {d180 / cost:10.2f}")
    print(f"\n  Files: {studio}/telemetry, attribution/, ad_spend/, campaigns.csv, ground_truth.csv")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "out/demo/studio"))
