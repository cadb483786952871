#!/usr/bin/env bash
# Measures keychain's hot paths side by side with hyperfine, in one run, and prints ratios:
#   1. `keychain totp NAME` against `oathtool --totp -b SECRET`
#   2. `keychain show NAME --reveal password` (os key store) against `secret-tool lookup` of one
#      item in the same gnome-keyring, and against the same with `keychain unlock` in effect,
#      and a hello-world Rust binary
#   3. each of them on a keychain with 1 account and one with 10,000, in the same hyperfine run
# Run it inside the private Secret Service:
#   scripts/with-secret-service benches/store.sh
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${KEYCHAIN_TEST_SECRET_SERVICE:-}" = 1 ] || { echo "run: scripts/with-secret-service benches/store.sh" >&2; exit 1; }
cargo build --release --quiet --bin keychain --example bulk_add
bin=$PWD/target/release/keychain
work=$(mktemp -d)
trap 'KEYCHAIN_DIR=$work/kc "$bin" lock >/dev/null 2>&1; KEYCHAIN_DIR=$work/big "$bin" lock >/dev/null 2>&1; rm -rf "$work"' EXIT
export KEYCHAIN_DIR=$work/kc
secret=JBSWY3DPEHPK3PXP
printf '%s' "$secret" > "$work/totp"
printf 'bench-password' > "$work/pw"
printf 'fn main() { println!("hello"); }' > "$work/hello.rs"
rustc -O -o "$work/hello" "$work/hello.rs"
printf 'bench-password' | secret-tool store --label=keychain-bench keychain-bench one
"$bin" init >/dev/null 2>&1
"$bin" add bench --provider oidc --issuer http://127.0.0.1:9 --client-id cli --user u \
  --password-file "$work/pw" --totp-file "$work/totp" --no-client-secret 2>/dev/null

run() { # label, then hyperfine arguments
  local label=$1; shift
  echo "== $label"
  hyperfine -N --warmup 20 --min-runs 200 --export-json "$work/h.json" "$@" >/dev/null 2>&1
  # Ratios of medians to the first command, within this one run.
  python3 benches/ratios.py "$work/h.json" --strip "$work/"
}

# A second keychain with 10,000 accounts (the same "bench" account among them), so that every
# comparison below runs the 1-account and the 10,000-account keychain side by side.
big=$work/big
KEYCHAIN_DIR=$big "$bin" init >/dev/null 2>&1
KEYCHAIN_DIR=$big "$bin" add bench --provider oidc --issuer http://127.0.0.1:9 --client-id cli --user u \
  --password-file "$work/pw" --totp-file "$work/totp" --no-client-secret 2>/dev/null
./target/release/examples/bulk_add "$big" 9999 2>/dev/null
sync
echo "### accounts: $(ls "$KEYCHAIN_DIR/accounts" | wc -l) (small) and $(ls "$big/accounts" | wc -l) (big)"

small_cmd() { echo "$bin --dir $KEYCHAIN_DIR $*"; }
big_cmd() { echo "$bin --dir $big $*"; }
lock_all() { "$bin" lock >/dev/null 2>&1; KEYCHAIN_DIR=$big "$bin" lock >/dev/null 2>&1; }

lock_all
run "totp through the Secret Service (goal: keychain <= 1.5x oathtool)" \
  "oathtool --totp -b $secret" "$(small_cmd totp bench)" "$(big_cmd totp bench)"
run "reveal through the Secret Service (goal: keychain <= 1.0x secret-tool)" \
  "secret-tool lookup keychain-bench one" "$(small_cmd show bench --reveal password)" "$(big_cmd show bench --reveal password)"
"$bin" unlock --for 10m 2>/dev/null
KEYCHAIN_DIR=$big "$bin" unlock --for 10m 2>/dev/null
run "with unlock in effect (goal: keychain <= 2x hello world)" \
  "$work/hello" "oathtool --totp -b $secret" \
  "$(small_cmd totp bench)" "$(big_cmd totp bench)" \
  "$(small_cmd show bench --reveal password)" "$(big_cmd show bench --reveal password)"
lock_all
