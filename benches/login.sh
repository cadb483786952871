#!/usr/bin/env bash
# `keychain login`'s costs, release build, in one run:
#   1. `keychain login NAME` from a valid cache against `keychain show NAME --reveal password` on
#      the same keychain (file key store), side by side with hyperfine (goal: at most 1.2x);
#   2. a headless logon: HTTP requests and client CPU time (user+sys) against LemonLDAP::NG
#      (dwho with TOTP once, msmith without second factor N times) and the Exact emulator.
# Needs hyperfine, python3 and LemonLDAP::NG (scripts/install-test-deps).
#   benches/login.sh [LOGONS]     (default 10 logons per provider)
set -euo pipefail
cd "$(dirname "$0")/.."
logons=${1:-10}
cargo build --release --quiet --bin keychain --example exact_emulator
bin=$PWD/target/release/keychain
work=$(mktemp -d)
emu_pid= llng_pid=
trap '[ -n "$emu_pid" ] && kill $emu_pid; [ -n "$llng_pid" ] && kill $llng_pid; rm -rf "$work"' EXIT
export KEYCHAIN_DIR=$work/kc
"$bin" init --key-store file >/dev/null 2>&1

target/release/examples/exact_emulator >"$work/emu.out" 2>/dev/null &
emu_pid=$!
for _ in $(seq 100); do [ -s "$work/emu.out" ] && break; sleep 0.05; done
emu=http://127.0.0.1:$(head -n1 "$work/emu.out")
printf 'exact-pass-1\n' >"$work/epw"; printf 'JBSWY3DPEHPK3PXP' >"$work/totp"
printf 'exact-secret' >"$work/ecs"; printf 'cli-secret' >"$work/lcs"
add_emu() { # name provider
  "$bin" add "$1" --provider "$2" --authorize-url "$emu/api/oauth2/auth" \
    --token-url "$emu/api/oauth2/token" --client-id exact-client \
    --redirect-uri http://127.0.0.1:8765/callback --user exact-user@example.com \
    --password-file "$work/epw" --totp-file "$work/totp" --client-secret-file "$work/ecs" 2>/dev/null
}
stat() { curl -s "$emu/__admin/stats" | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }

echo "== 1. login from the cache vs show --reveal (release build, file key store)"
add_emu cached exact-nl
"$bin" login cached >/dev/null
hyperfine -N --warmup 50 --min-runs 1000 --export-json "$work/h.json" \
  "$bin show cached --reveal password" "$bin login cached" >/dev/null 2>&1
python3 - "$work/h.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
base = r[0]
for x in r:
    print(f'  median {x["median"]*1000:6.3f} ms ({x["median"]/base["median"]:4.2f}x), mean {x["mean"]*1000:6.3f} ms ±{x["stddev"]*1000:6.3f}'
          f' ({x["mean"]/base["mean"]:4.2f}x), user+sys {(x["user"]+x["system"])*1000:6.3f} ms'
          f' ({(x["user"]+x["system"])/(base["user"]+base["system"]):4.2f}x)  {x["command"].split("/")[-1]}')
PY

# CPU time (user+sys, ms) of one keychain call, from bash's `time`.
cpu() { local TIMEFORMAT='%3U %3S' t; t=$( { time "$@" >/dev/null 2>&1; } 2>&1 ); awk '{printf "%.0f", ($1+$2)*1000}' <<<"$t"; }
report() { # label, list of cpu ms, requests per logon
  python3 -c "import sys,statistics as s; v=[int(x) for x in sys.argv[2].split()]; print(f'  {sys.argv[1]}: {sys.argv[3]} HTTP requests per logon; client CPU {s.mean(v):.1f} ms mean, {min(v)}..{max(v)} ms over {len(v)} logons')" "$@"
}

echo "== 2. headless logons"
# The emulator: a plain oauth2 account (keychain applies Exact's local rules only to exact-*),
# the emulator's clock moved 30 s between logons so that each has a fresh TOTP step.
add_emu logon oauth2
ms=() r0=$(stat requests)
for _ in $(seq "$logons"); do
  "$bin" set logon --clear refresh-token >/dev/null 2>&1 || true
  curl -s -X POST "$emu/__admin/advance?seconds=30" >/dev/null
  ms+=("$(cpu "$bin" login logon --min-valid 700)")
done
r1=$(stat requests)
report "Exact emulator (B2C pages, TOTP)" "${ms[*]}" "$(( (r1 - r0 - 1 - logons) / logons ))"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
llng_pid=$(PORT=$port BASE=$work/llng ../shared/idp/lemonldap/start.sh 2>/dev/null | tail -n1)
llng=http://127.0.0.1:$port
add_llng() { # name user password [totp]
  local second=(--no-totp); [ -n "${4:-}" ] && second=(--totp-file "$work/totp")
  printf '%s\n' "$3" >"$work/lpw"
  "$bin" add "$1" --provider oidc --issuer "$llng" --client-id cli --client-secret-file "$work/lcs" \
    --redirect-uri http://127.0.0.1:8765/callback --scope "openid offline_access" --user "$2" \
    --password-file "$work/lpw" "${second[@]}" 2>/dev/null
}
requests() { grep -c 'keychain/' "$work/llng/server.log" || true; }
add_llng dwho dwho dwho totp
r0=$(requests); ms=("$(cpu "$bin" login dwho)"); r1=$(requests)
report "LemonLDAP::NG dwho (password + TOTP; incl. discovery)" "${ms[*]}" "$((r1 - r0))"
add_llng msmith msmith msmith
ms=() r0=$(requests)
for _ in $(seq "$logons"); do
  "$bin" set msmith --clear refresh-token >/dev/null 2>&1 || true
  ms+=("$(cpu "$bin" login msmith --min-valid 700)")
done
r1=$(requests)
report "LemonLDAP::NG msmith (password only; incl. discovery)" "${ms[*]}" "$(( (r1 - r0) / logons ))"
