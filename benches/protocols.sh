#!/usr/bin/env bash
# Issue 22 item 3's speed goal: `keychain read ACCOUNT/FIELD` no slower than `show --reveal`.
# Both reveal the same secret (one decryption, one audited, durable reveal), in one hyperfine
# run so the ratio is taken under one load; `read` of a plain field (no audit) for scale.
# CPU time (user+sys) is printed beside wall time: on a busy machine it is the fairer measure.
#   benches/protocols.sh [RUNS]      (default 100; run when the machine is quiet: see uptime)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-100}
command -v hyperfine >/dev/null || { echo "protocols.sh: hyperfine is missing" >&2; exit 1; }
cargo build --release --quiet --bin keychain
bin=$PWD/target/release/keychain
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export KEYCHAIN_DIR=$work/kc
printf 'bench-password' >"$work/pw"
"$bin" init --key-store file >/dev/null 2>&1
"$bin" add bench --provider oidc --issuer http://127.0.0.1:9 --client-id cli --user u \
  --password-file "$work/pw" --no-totp --no-client-secret 2>/dev/null
[ "$("$bin" read bench/password)" = bench-password ] || { echo "protocols.sh: setup failed" >&2; exit 1; }
hyperfine -N --warmup 5 --runs "$runs" --export-json "$work/r.json" \
  -n show-reveal "$bin show bench --reveal password" \
  -n read-password "$bin read bench/password" \
  -n read-user "$bin read bench/user" >/dev/null
python3 - "$work/r.json" <<'PY'
import json, statistics, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
base = r["show-reveal"]
for name, x in r.items():
    cpu = x["user"] + x["system"]
    print(f"{name:14} median {x['median']*1000:7.2f} ms  mean {x['mean']*1000:7.2f} ms  "
          f"cpu {cpu*1000:6.2f} ms  ratio(median) {x['median']/base['median']:.2f}  "
          f"ratio(cpu) {cpu/(base['user']+base['system']):.2f}")
PY
