#!/usr/bin/env bash
# Measures `keychain audit` on a trail of 100,000 events (goal: within 2 s), release build:
#   benches/audit_report.sh [EVENTS] [ACCOUNTS] [BIG]
# then on a keychain of BIG accounts (default 10,000; 0 skips it; goal for 10,000: <= 0.4 s),
# cold (the file-key cache removed before each run: one X25519 agreement per record) and warm
# (the cache as the previous run left it), side by side in one hyperfine run, with the ratio.
# KEYCHAIN_BEFORE=/path/to/an/older/keychain adds that binary on the same big keychain.
# The trail is written through the library (examples/audit_trail.rs: one lock, one fsync), not
# by 100,000 CLI calls; every line is chained and MAC'd, so the report verifies it in full.
# Prints hyperfine's figures for the text report, the HTML report (timelines and charts drawn)
# and the report without the key (no verification), then the HTML file's size.
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-100000}
accounts=${2:-20}
big=${3:-10000}
command -v hyperfine >/dev/null || { echo "needs hyperfine (apt-get install hyperfine)" >&2; exit 1; }
cargo build --release --quiet --bin keychain --example audit_trail --example bulk_add
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
  "$bin/keychain audit --fail-on critical --html $work/report.html --force" \
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

[ "$big" -gt 0 ] || exit 0
# A keychain of BIG accounts as benches/hot_paths.sh makes it (bulk_add: real records, each
# with its `add` event), its key in a file (no service needed).
export KEYCHAIN_DIR=$work/big
"$bin/keychain" init --key-store file >/dev/null 2>&1
"$bin/examples/bulk_add" "$KEYCHAIN_DIR" "$big"
sync
cache=$KEYCHAIN_DIR/file-keys.cache
older=()
[ -z "${KEYCHAIN_BEFORE:-}" ] || older=(--prepare true -n "before: audit (${KEYCHAIN_BEFORE})"
  "$KEYCHAIN_BEFORE audit --fail-on critical")
echo "== keychain audit on $big accounts: cold (no file-key cache) and warm, one run"
hyperfine -N --warmup 2 --min-runs 10 --export-json "$work/big.json" \
  --prepare "rm -f $cache" -n "audit, cold (file-key cache removed before each run)" \
  "$bin/keychain audit --fail-on critical" \
  --prepare true -n "audit, warm (file-key cache of the previous run)" \
  "$bin/keychain audit --fail-on critical" \
  "${older[@]}" >/dev/null 2>"$work/big.err" || { tail -n 5 "$work/big.err" >&2; exit 1; }
python3 benches/ratios.py "$work/big.json"
python3 - "$work/big.json" "$big" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
cold, warm = r[0]["median"], r[1]["median"]
goal = "goal <= 0.4 s (10,000 accounts)" if sys.argv[2] == "10000" else "no goal at this size"
for label, v in (("cold", cold), ("warm", warm)):
    met = "" if sys.argv[2] != "10000" else ("  met" if v <= 0.4 else "  NOT MET")
    print(f"  audit, {sys.argv[2]} accounts, {label}: {v:7.3f} s  {goal}{met}")
print(f"  warm / cold: {warm / cold:6.3f}x (medians, same run)")
PY
