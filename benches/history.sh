#!/usr/bin/env bash
# Issue 19 item 2: the per-call cost of the replay check must not grow with the audit log.
# Two keychains set up alike (one account with a password and a TOTP secret, one with a cached
# Exact token from the emulator), one new and one with LINES more log lines (default 200,000,
# written through the library: examples/audit_trail.rs, chained and MAC'd). All commands run in
# ONE hyperfine invocation, so every ratio is taken under one load; it prints, per command, the
# median wall time and the mean CPU time (user+sys) on both, and the ratio (goal <= 1.1x).
#   benches/history.sh [LINES] [MIN_RUNS]
# With KEYCHAIN_BEFORE=/path/to/an/older/keychain the same commands also run that binary on the
# same two keychains, side by side (an older binary ignores audit.index and scans the log).
# Release build; run it when the machine is quiet (uptime), and more than once.
set -euo pipefail
cd "$(dirname "$0")/.."
lines=${1:-200000}
runs=${2:-60}
before=${KEYCHAIN_BEFORE:-}
for tool in hyperfine python3; do
  command -v "$tool" >/dev/null || { echo "history.sh: $tool is missing" >&2; exit 1; }
done
cargo build --release --quiet --bin keychain --example audit_trail --example exact_emulator
bin=$PWD/target/release/keychain
work=$(mktemp -d)
emu_pid=
cleanup() {
  [ -n "$emu_pid" ] && kill "$emu_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
setup_failed() { echo "history.sh: setup failed: $*" >&2; exit 1; }
printf 'JBSWY3DPEHPK3PXP' >"$work/totp"
printf 'bench-password' >"$work/pw"
printf 'exact-secret' >"$work/cs"
printf 'exact-pass-1\n' >"$work/epw"
target/release/examples/exact_emulator >"$work/emu.out" 2>/dev/null &
emu_pid=$!
for _ in $(seq 100); do [ -s "$work/emu.out" ] && break; sleep 0.05; done
emu=http://127.0.0.1:$(head -n1 "$work/emu.out")

for kc in new long; do
  export KEYCHAIN_DIR=$work/$kc
  "$bin" init --key-store file >/dev/null 2>&1 || setup_failed "init $kc"
  "$bin" add bench --provider oidc --issuer http://127.0.0.1:9 --client-id cli --user u \
    --password-file "$work/pw" --totp-file "$work/totp" --no-client-secret 2>/dev/null ||
    setup_failed "add bench"
  "$bin" add cached --provider exact-nl --authorize-url "$emu/api/oauth2/auth" \
    --token-url "$emu/api/oauth2/token" --client-id exact-client \
    --redirect-uri http://127.0.0.1:8765/callback --user exact-user@example.com \
    --password-file "$work/epw" --totp-file "$work/totp" --client-secret-file "$work/cs" \
    2>/dev/null || setup_failed "add cached"
  "$bin" login cached >/dev/null || setup_failed "login cached"
done
unset KEYCHAIN_DIR
target/release/examples/audit_trail "$work/long" "$lines" 20 2>/dev/null ||
  setup_failed "audit_trail"
# The first read after the history was written builds the counter index from the first line
# (authenticated); timed once here, it is a one-off.
start=$(date +%s.%N)
"$bin" --dir "$work/long" show bench >/dev/null || setup_failed "show on the long log"
end=$(date +%s.%N)
echo "== audit log lines: new keychain $(wc -l <"$work/new/audit.log"), long $(wc -l <"$work/long/audit.log") ($(du -h "$work/long/audit.log" | cut -f1))"
python3 -c "import sys; print(f'  one-off: the first read of the long log built audit.index in {float(sys.argv[2]) - float(sys.argv[1]):.2f} s')" "$start" "$end"
sync

cmds=("totp bench" "show bench --reveal password" "show bench" "login cached")
args=()
for b in "$bin" ${before:+"$before"}; do
  for c in "${cmds[@]}"; do
    args+=("$b --dir $work/new $c" "$b --dir $work/long $c")
  done
done
hyperfine -N --warmup 5 --min-runs "$runs" --export-json "$work/h.json" "${args[@]}" \
  >/dev/null 2>"$work/hyperfine.err" || { tail -n 5 "$work/hyperfine.err" >&2; exit 1; }
python3 - "$work/h.json" "$work" "$bin" "$before" <<'PY'
import json, sys
results, work, after, before = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
by = {x["command"]: x for x in json.load(open(results))["results"]}
print("== per call: new keychain vs long log, one hyperfine run (goal: long / new <= 1.1x)")
print(f'  {"command":34s} {"wall new":>9s} {"wall long":>9s} {"ratio":>6s}   {"cpu new":>8s} {"cpu long":>8s} {"ratio":>6s}')
worst = 0.0
for label, binary in (("", after), ("before: ", before)):
    if not binary:
        continue
    for cmd in ("totp bench", "show bench --reveal password", "show bench", "login cached"):
        new = by[f"{binary} --dir {work}/new {cmd}"]
        long = by[f"{binary} --dir {work}/long {cmd}"]
        wn, wl = new["median"] * 1000, long["median"] * 1000
        cn = (new["user"] + new["system"]) * 1000
        cl = (long["user"] + long["system"]) * 1000
        if not label:
            worst = max(worst, wl / wn, cl / cn)
        print(f'  {label + cmd:34s} {wn:7.2f}ms {wl:7.2f}ms {wl / wn:5.2f}x   {cn:6.2f}ms {cl:6.2f}ms {cl / cn:5.2f}x')
verdict = "met" if worst <= 1.1 else "NOT MET"
print(f"  worst ratio (wall or CPU) {worst:.2f}x: goal <= 1.1x {verdict}")
PY
# The same pairs in turn (long and new alternately, benches/interleaved.py): the hyperfine run
# above times each command as one block, and a block's place in the run moves its figure (a
# cached `login` showed 1.23x there with fewer instructions on the long log than on the new).
echo "== per call, in turn: long and new alternately, $runs each (goal: long / new <= 1.1x)"
for c in "${cmds[@]}"; do
  python3 benches/interleaved.py "$runs" "$c: long / new" "$bin --dir $work/long $c" \
    "$bin --dir $work/new $c"
done
echo "  load when done: $(uptime | sed 's/.*load average: //')"
