#!/usr/bin/env bash
# Measures keychain's hot paths side by side with hyperfine, in one run, and prints ratios:
#   1. `keychain totp NAME` against `oathtool --totp -b SECRET`
#   2. `keychain show NAME --reveal password` (os key store) against `secret-tool lookup` of one
#      item in the same gnome-keyring, and against the same with `keychain unlock` in effect,
#      and a hello-world Rust binary
#   3. all of it with 1 and with 10,000 accounts in the keychain
# Run it inside the private Secret Service:
#   scripts/with-secret-service benches/store.sh
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${KEYCHAIN_TEST_SECRET_SERVICE:-}" = 1 ] || { echo "run: scripts/with-secret-service benches/store.sh" >&2; exit 1; }
cargo build --release --quiet --bin keychain --example bulk_add
bin=$PWD/target/release/keychain
work=$(mktemp -d)
trap 'KEYCHAIN_DIR=$work/kc "$bin" lock >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
export KEYCHAIN_DIR=$work/kc
secret=JBSWY3DPEHPK3PXP
printf '%s' "$secret" > "$work/totp"
printf 'bench-password' > "$work/pw"
printf 'fn main() { println!("hello"); }' > "$work/hello.rs"
rustc -O -o "$work/hello" "$work/hello.rs"
printf 'bench-password' | secret-tool store --label=keychain-bench keychain-bench one
"$bin" init >/dev/null 2>&1
"$bin" add bench --provider oidc --issuer http://127.0.0.1:9 --client-id cli --user u \
  --password-file "$work/pw" --totp-file "$work/totp" 2>/dev/null

run() { # label, then hyperfine arguments
  local label=$1; shift
  echo "== $label"
  hyperfine -N --warmup 20 --min-runs 200 --export-json "$work/h.json" "$@" >/dev/null 2>&1
  python3 - "$work/h.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
base = r[0]["mean"]
for x in r:
    print(f'  {x["mean"]*1000:8.3f} ms ±{x["stddev"]*1000:6.3f}  {x["mean"]/base:5.2f}x  {x["command"]}')
PY
}

for accounts in 1 10000; do
  if [ "$accounts" = 10000 ]; then
    ./target/release/examples/bulk_add "$KEYCHAIN_DIR" 9999 2>/dev/null
  fi
  echo "### $(ls "$KEYCHAIN_DIR/accounts" | wc -l) accounts"
  run "totp (goal: keychain <= 1.5x oathtool)" \
    "oathtool --totp -b $secret" "$bin totp bench"
  "$bin" lock >/dev/null 2>&1
  run "reveal through the Secret Service (goal: keychain <= 1.0x secret-tool)" \
    "secret-tool lookup keychain-bench one" "$bin show bench --reveal password"
  "$bin" unlock --for 10m 2>/dev/null
  run "reveal with unlock in effect (goal: keychain <= 2x hello world)" \
    "$work/hello" "$bin show bench --reveal password" "$bin totp bench"
  "$bin" lock >/dev/null 2>&1
done
