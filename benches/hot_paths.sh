#!/usr/bin/env bash
# The hot paths of issue 12, measured in one run and printed as ratios of medians, goal by goal:
#   1. `totp` and `show --reveal` through the Secret Service vs `secret-tool lookup` of one item
#      in the same gnome-keyring (goal <= 0.3x);
#   2. with `unlock` in effect: `totp` vs `oathtool --totp` of the same secret (<= 1.5x),
#      `show --reveal` (audited, durable) vs that `totp` (<= 2x);
#   3. `login` from a valid cache vs `show --reveal` (<= 1.1x);
#   4. `audit` and `list` on 10,000 accounts (<= 0.4 s, <= 0.1 s), and on 1,000 (linear or better:
#      10,000 costs at most 10x 1,000);
#   5. start-up: binary size, `keychain --version` vs a Rust hello world, page faults; and the
#      fsyncs one audited reveal makes (strace).
# Each group of commands that a goal compares runs in one hyperfine invocation, so its ratio is
# taken under one load. Run it when the machine is quiet (see `uptime`) and more than once:
#   benches/hot_paths.sh [MIN_RUNS]      (default 200 runs per command for the fast commands)
# It starts its own private D-Bus session with gnome-keyring (scripts/with-secret-service).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${KEYCHAIN_TEST_SECRET_SERVICE:-}" = 1 ] || exec scripts/with-secret-service "$0" "$@"
runs=${1:-200}
for tool in hyperfine oathtool secret-tool python3 strace /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "hot_paths.sh: $tool is missing" >&2; exit 1; }
done
cargo build --release --quiet --bin keychain --example bulk_add --example exact_emulator
bin=$PWD/target/release/keychain
work=$(mktemp -d)
emu_pid=
cleanup() {
  for d in kc k1k k10k; do KEYCHAIN_DIR=$work/$d "$bin" lock >/dev/null 2>&1 || true; done
  [ -n "$emu_pid" ] && kill "$emu_pid"
  rm -rf "$work"
}
trap cleanup EXIT
secret=JBSWY3DPEHPK3PXP
printf '%s' "$secret" >"$work/totp"
printf 'bench-password' >"$work/pw"
printf 'exact-secret' >"$work/cs"
printf 'fn main() { println!("hello"); }' >"$work/hello.rs"
rustc -O -o "$work/hello" "$work/hello.rs"
printf 'bench-password' | secret-tool store --label=keychain-bench keychain-bench one

# The small keychain: one account with a password and a TOTP secret, one with a cached token.
export KEYCHAIN_DIR=$work/kc
"$bin" init >/dev/null 2>&1
"$bin" add bench --provider oidc --issuer http://127.0.0.1:9 --client-id cli --user u \
  --password-file "$work/pw" --totp-file "$work/totp" 2>/dev/null
target/release/examples/exact_emulator >"$work/emu.out" 2>/dev/null &
emu_pid=$!
for _ in $(seq 100); do [ -s "$work/emu.out" ] && break; sleep 0.05; done
emu=http://127.0.0.1:$(head -n1 "$work/emu.out")
printf 'exact-pass-1\n' >"$work/epw"
"$bin" add cached --provider exact-nl --authorize-url "$emu/api/oauth2/auth" \
  --token-url "$emu/api/oauth2/token" --client-id exact-client \
  --redirect-uri http://127.0.0.1:8765/callback --user exact-user@example.com \
  --password-file "$work/epw" --totp-file "$work/totp" --client-secret-file "$work/cs" 2>/dev/null

# Keychains of 1,000 and 10,000 accounts for `list` and `audit`.
for n in 1000 10000; do
  d=$work/k$((n / 1000))k
  KEYCHAIN_DIR=$d "$bin" init >/dev/null 2>&1
  target/release/examples/bulk_add "$d" "$n" 2>/dev/null
done
sync

# hyperfine over the given commands; prints each median and its ratio to the first command.
group() { # label, min runs, commands...
  local label=$1 min=$2; shift 2
  echo "== $label"
  hyperfine -N -i --warmup 10 --min-runs "$min" --export-json "$work/h.json" "$@" >/dev/null 2>&1
  python3 - "$work/h.json" "$work/medians" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
with open(sys.argv[2], "a") as out:
    for x in r:
        cmd = x["command"].replace(sys.argv[2].rsplit("/", 1)[0] + "/", "")
        print(f'  median {x["median"]*1000:8.3f} ms  (min {x["min"]*1000:7.3f}, max {x["max"]*1000:8.3f})  {cmd}')
        out.write(f'{x["command"]}\t{x["median"]}\n')
PY
}
median() { awk -F'\t' -v c="$1" '$1 == c { m = $2 } END { print m }' "$work/medians"; }
goal() { # label, numerator command, denominator command (or a number of seconds), bound
  python3 - "$1" "$(median "$2")" "$3" "$(median "$3")" "$4" <<'PY'
import sys
label, num, den_cmd, den, bound = sys.argv[1:]
num = float(num)
den = float(den) if den else float(den_cmd)
ratio = num / den
unit = "x" if den_cmd and not den_cmd.replace(".", "").isdigit() else " s"
value = ratio if unit == "x" else num
verdict = "(no goal)" if bound == "-" else f'goal <= {bound}{unit}  {"met" if value <= float(bound) else "NOT MET"}'
print(f'  {label:58s} {value:8.3f}{unit}  {verdict}')
PY
}
s() { echo "$bin $*"; }
: >"$work/medians"

lock_all() { for d in kc k1k k10k; do KEYCHAIN_DIR=$work/$d "$bin" lock >/dev/null 2>&1 || true; done; }
lock_all
group "1. through the Secret Service (no unlock)" "$runs" \
  "secret-tool lookup keychain-bench one" "$(s totp bench)" "$(s show bench --reveal password)"

for d in kc k1k k10k; do KEYCHAIN_DIR=$work/$d "$bin" unlock --for 30m 2>/dev/null; done
"$bin" login cached >/dev/null
group "2./3. with unlock in effect" "$runs" \
  "$work/hello" "oathtool --totp -b $secret" "$(s totp bench)" \
  "$(s show bench --reveal password)" "$(s login cached)" "$(s --version)"
group "4. whole-keychain commands (with unlock)" 10 \
  "$(s --dir "$work/k1k" list)" "$(s --dir "$work/k10k" list)" \
  "$(s --dir "$work/k1k" audit)" "$(s --dir "$work/k10k" audit)"

echo "== goals (ratios of medians within one group)"
goal "totp through the Secret Service / secret-tool lookup" "$(s totp bench)" "secret-tool lookup keychain-bench one" 0.3
goal "show --reveal through the Secret Service / secret-tool" "$(s show bench --reveal password)" "secret-tool lookup keychain-bench one" 0.3
goal "totp with unlock / oathtool --totp" "$(s totp bench)" "oathtool --totp -b $secret" 1.5
goal "show --reveal with unlock / totp" "$(s show bench --reveal password)" "$(s totp bench)" 2
goal "login from the cache / show --reveal" "$(s login cached)" "$(s show bench --reveal password)" 1.1
goal "audit, 10,000 accounts (seconds)" "$(s --dir "$work/k10k" audit)" 1 0.4
goal "list, 10,000 accounts (seconds)" "$(s --dir "$work/k10k" list)" 1 0.1
goal "audit: 10,000 / 1,000 accounts (linear: <= 10x)" "$(s --dir "$work/k10k" audit)" "$(s --dir "$work/k1k" audit)" 10
goal "list: 10,000 / 1,000 accounts (linear: <= 10x)" "$(s --dir "$work/k10k" list)" "$(s --dir "$work/k1k" list)" 10

echo "== 5. start-up and durability"
echo "  binary: $(stat -c %s "$bin") bytes ($(du -h "$bin" | cut -f1)); hello world $(stat -c %s "$work/hello") bytes"
faults() { /usr/bin/time -f '%R' "$@" 2>&1 >/dev/null | tail -n1; }
echo "  minor page faults: hello $(faults "$work/hello"), keychain --version $(faults "$bin" --version)," \
  "totp (unlock) $(faults "$bin" totp bench), show --reveal (unlock) $(faults "$bin" show bench --reveal password)"
goal "keychain --version / hello world" "$(s --version)" "$work/hello" -
syncs=$(strace -f -qq -e trace=fsync,fdatasync,syncfs,sync_file_range -o "$work/strace" \
  "$bin" show bench --reveal password >/dev/null && grep -c -E 'sync' "$work/strace" || true)
echo "  fsync/fdatasync calls in one audited show --reveal: $syncs"
echo "  load when done: $(uptime | sed 's/.*load average: //')"
