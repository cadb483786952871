#!/usr/bin/env bash
# What replay detection costs: every record opened is compared with the last write counter the
# audit log holds for it, found by reading the log backwards. Worst case: the account's last
# write is the oldest line. Compares, in one hyperfine run, a keychain with 1 account and one
# whose account was written first and then N others (default 3000; ~1 MB of log to read back):
#   `show NAME` (one read, no append) and `totp NAME` (one read and one audited append).
#   benches/integrity.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-3000}
cargo build --release --quiet --bin keychain --example bulk_add
bin=$PWD/target/release/keychain
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf 'JBSWY3DPEHPK3PXP' > "$work/totp"
for kc in small big; do
  KEYCHAIN_DIR=$work/$kc "$bin" init --key-store file >/dev/null 2>&1
  KEYCHAIN_DIR=$work/$kc "$bin" add acme --provider oidc --issuer http://127.0.0.1:9 \
    --client-id cli --user u --no-password --totp-file "$work/totp" --no-client-secret 2>/dev/null
done
target/release/examples/bulk_add "$work/big" "$n"
echo "audit log of the big keychain: $(stat -c %s "$work/big/audit.log") bytes"
hyperfine -N --warmup 5 --runs 60 --export-json "$work/h.json" \
  "env KEYCHAIN_DIR=$work/small $bin show acme" \
  "env KEYCHAIN_DIR=$work/big $bin show acme" \
  "env KEYCHAIN_DIR=$work/small $bin totp acme" \
  "env KEYCHAIN_DIR=$work/big $bin totp acme" >/dev/null
echo "== ratios of medians to the small keychain's show (one run)"
python3 benches/ratios.py "$work/h.json" --strip "$work/"
