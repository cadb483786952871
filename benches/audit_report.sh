#!/usr/bin/env bash
# Measures `keychain audit` on a trail of 100,000 events (goal: within 2 s), release build:
#   benches/audit_report.sh [EVENTS] [ACCOUNTS]
# The trail is written through the library (examples/audit_trail.rs: one lock, one fsync), not
# by 100,000 CLI calls; every line is chained and MAC'd, so the report verifies it in full.
# Prints hyperfine's figures for the text report, the HTML report (timelines and charts drawn)
# and the report without the key (no verification), then the HTML file's size.
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-100000}
accounts=${2:-20}
command -v hyperfine >/dev/null || { echo "needs hyperfine (apt-get install hyperfine)" >&2; exit 1; }
cargo build --release --quiet --bin keychain --example audit_trail
bin=$PWD/target/release
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export KEYCHAIN_DIR=$work/kc
"$bin/keychain" init --key-store file >/dev/null 2>&1
"$bin/examples/audit_trail" "$KEYCHAIN_DIR" "$events" "$accounts"
"$bin/keychain" audit verify
echo "== keychain audit on $(wc -l <"$KEYCHAIN_DIR/audit.log") log lines, $accounts accounts"
hyperfine -N --warmup 2 --min-runs 10 --export-json "$work/h.json" \
  "$bin/keychain audit --fail-on critical" \
  "$bin/keychain audit --fail-on critical --html $work/report.html" \
  "$bin/keychain audit --fail-on critical --no-key" >/dev/null 2>&1
python3 - "$work/h.json" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    verdict = "within 2 s" if r["max"] < 2 else "OVER 2 s"
    cmd = r["command"].split("/keychain ", 1)[1].replace(sys.argv[1].rsplit("/", 1)[0], "$work")
    print(f'  mean {r["mean"]*1000:7.1f} ms  ±{r["stddev"]*1000:5.1f}  max {r["max"]*1000:7.1f} ms  {verdict}  keychain {cmd}')
PY
echo "== ratios of medians to the text report (one run)"
python3 benches/ratios.py "$work/h.json" --strip "$bin/"
echo "  HTML report: $(stat -c %s "$work/report.html") bytes"
