#!/usr/bin/env bash
# The short hot-path check CI runs (issue 24 item 4): a few ratios of medians, each taken within
# one hyperfine run (so both sides share the machine's load), printed beside the committed
# baseline (benches/ci_baseline.tsv). It fails only on a gross regression: a ratio above
# FACTOR (default 3) times its baseline, by the median wall time AND by the CPU time (user+sys),
# so that noise in one of them alone never fails it. Times themselves are never compared.
#
#   benches/ci_hot_paths.sh [BINARY]      (default target/debug/keychain, as CI's tests built it)
#   KEYCHAIN_CI_FACTOR=3 KEYCHAIN_CI_RUNS=15 benches/ci_hot_paths.sh
#   benches/ci_hot_paths.sh --record      (prints a new baseline from this machine's figures)
#
# The baseline is for the debug build CI tests (no optimisation of the crypto: slower, and other
# ratios than a release build's; benches/hot_paths.sh measures the release build against the
# goals). Checks: start-up (--version / a Rust hello world), totp / oathtool --totp, an audited
# show --reveal / totp, and whether audit and list grow linearly (800 / 200 accounts: 4 when
# linear, 16 when quadratic). It needs hyperfine, oathtool, python3 and rustc; no Secret Service
# (a file key store). Under a minute on two cores.
set -euo pipefail
cd "$(dirname "$0")/.."
record=
if [ "${1:-}" = --record ]; then record=1; shift; fi
bin=${1:-$PWD/target/debug/keychain}
factor=${KEYCHAIN_CI_FACTOR:-3}
runs=${KEYCHAIN_CI_RUNS:-15}
baseline=benches/ci_baseline.tsv
for tool in hyperfine oathtool python3 rustc; do
  command -v "$tool" >/dev/null || { echo "ci_hot_paths.sh: $tool is missing" >&2; exit 1; }
done
if [ -z "${1:-}" ]; then cargo build --quiet --bin keychain --example bulk_add; fi
bulk=$(dirname "$bin")/examples/bulk_add
[ -x "$bulk" ] || cargo build --quiet --example bulk_add
[ -x "$bulk" ] || bulk=$PWD/target/debug/examples/bulk_add
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
secret=JBSWY3DPEHPK3PXP
printf '%s' "$secret" >"$work/totp"
printf 'bench-password' >"$work/pw"
printf 'fn main() { println!("hello"); }' >"$work/hello.rs"
rustc -O -o "$work/hello" "$work/hello.rs"
export KEYCHAIN_DIR=$work/kc
"$bin" init --key-store file >/dev/null 2>&1
"$bin" add bench --provider oidc --issuer http://127.0.0.1:9 --client-id cli --user u \
  --password-file "$work/pw" --totp-file "$work/totp" --no-client-secret 2>/dev/null
[ "$("$bin" show bench --reveal password)" = bench-password ] || { echo "ci_hot_paths.sh: setup failed" >&2; exit 1; }
for n in 200 800; do
  KEYCHAIN_DIR=$work/k$n "$bin" init --key-store file >/dev/null 2>&1
  "$bulk" "$work/k$n" "$n" >/dev/null 2>&1
done

# One hyperfine run over COMMANDS; appends "label<TAB>command<TAB>median<TAB>cpu" per command.
group() { # label, runs, commands...
  local label=$1 n=$2; shift 2
  hyperfine -N --warmup 3 --runs "$n" --export-json "$work/h.json" "$@" >/dev/null 2>"$work/err" \
    || { tail -n 5 "$work/err" >&2; exit 1; }
  python3 - "$work/h.json" "$label" >>"$work/medians" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print(f'{sys.argv[2]}\t{r["command"]}\t{r["median"]}\t{r["user"] + r["system"]}')
PY
}
: >"$work/medians"
group start "$runs" "$work/hello" "$bin --version"
group totp "$runs" "oathtool --totp -b $secret" "$bin totp bench" "$bin show bench --reveal password"
group whole 5 "$bin --dir $work/k200 audit --fail-on critical" "$bin --dir $work/k800 audit --fail-on critical" \
  "$bin --dir $work/k200 list" "$bin --dir $work/k800 list"

python3 - "$work/medians" "$baseline" "$factor" "$bin" "$work" "$record" <<'PY'
import sys
medians, baseline_path, factor, binary, work, record = sys.argv[1:]
factor = float(factor)
rows = {}
for line in open(medians):
    group, command, median, cpu = line.rstrip("\n").split("\t")
    rows[(group, command.replace(binary, "keychain").replace(work + "/", ""))] = (float(median), float(cpu))
def ratio(group, num, den):
    (mn, cn), (md, cd) = rows[(group, num)], rows[(group, den)]
    return mn / md, cn / cd
checks = [
    ("start-up: --version / hello", ratio("start", "keychain --version", "hello")),
    ("totp / oathtool --totp", ratio("totp", "keychain totp bench", f"oathtool --totp -b JBSWY3DPEHPK3PXP")),
    ("show --reveal / totp", ratio("totp", "keychain show bench --reveal password", "keychain totp bench")),
    ("audit: 800 / 200 accounts", ratio("whole", "keychain --dir k800 audit --fail-on critical", "keychain --dir k200 audit --fail-on critical")),
    ("list: 800 / 200 accounts", ratio("whole", "keychain --dir k800 list", "keychain --dir k200 list")),
]
if record:
    print("# check\tratio of medians (debug build), recorded by benches/ci_hot_paths.sh --record")
    for name, (wall, cpu) in checks:
        print(f"{name}\t{min(wall, cpu):.3f}")
    sys.exit(0)
base = {}
for line in open(baseline_path):
    if line.startswith("#") or not line.strip():
        continue
    name, value = line.rstrip("\n").split("\t")
    base[name] = float(value)
failed = []
print(f"hot paths (ratios of medians within one run; fails above {factor:g}x the baseline by wall and CPU both)")
for name, (wall, cpu) in checks:
    b = base.get(name)
    if b is None:
        print(f"  {name:32s} wall {wall:7.3f}x  cpu {cpu:7.3f}x  (no baseline)")
        continue
    gross = wall > factor * b and cpu > factor * b
    verdict = "GROSS REGRESSION" if gross else "ok"
    print(f"  {name:32s} wall {wall:7.3f}x  cpu {cpu:7.3f}x  baseline {b:7.3f}x  limit {factor * b:7.3f}x  {verdict}")
    if gross:
        failed.append(name)
if failed:
    print(f"ci_hot_paths.sh: {len(failed)} ratio(s) above {factor:g}x their baseline: {', '.join(failed)}", file=sys.stderr)
    sys.exit(1)
PY
