#!/usr/bin/env bash
# The shared keychain on OpenBao (issue 7), release build, in one run:
#   1. `keychain login NAME` from a valid cache on the OpenBao store, side by side with the same
#      on the local store (goal: at most 1.5x), on an OpenBao keychain whose role's tokens carry
#      the `default` policy (which docs/shared-keychain.md advises against), and with
#      `bao kv get` of the same record by a
#      token of the same policy (goal: at most 0.5x), with hyperfine; ratios of medians and of
#      CPU time (user+sys); then the floor: what one KV write and one read cost this OpenBao
#      alone (python3, new connection each, no process start), the part of the ratio that is
#      the server's own latency; then the CPU time of each login, the commands taken in turn
#      (which a loaded machine moves less), the user-space instructions (valgrind) and system
#      calls and threads (strace) of one login on each store, and all of it side by side, this
#      build against KEYCHAIN_BENCH_BEFORE's;
#   1b. `audit verify` of the shared trail those logins wrote (one event each), side by side with
#      KEYCHAIN_BENCH_BEFORE's;
#   2. two machines (two keychain folders, each with its own identity and AppRole) x PROCESSES
#      simultaneous `keychain login` each, on one Exact account whose token has just expired,
#      EXPIRIES times, against the emulator: token requests (goal: = expiries) and failures
#      (goal: 0). The emulator's clock and keychain's (libfaketime) move 600 s per expiry.
# In turn, part 1 also times the cached login inside the clock margin (`--min-valid 300`: the
# token has less than that plus `clock::reference::MAX_OFFSET` left on this machine's clock, so
# the fast path judges it on the store's clock and waits for the witness's answer first).
# KEYCHAIN_BENCH_RT=1 runs OpenBao and part 1's timed commands at real-time priority (chrt -f 20,
# as root): on a machine shared with nice'd work this is as near a quiet machine as it gets
# (`bao kv get` then runs through `chrt -o 0`: the Go CLI at real-time priority fails on two
# cores, and chrt's exec is counted in its figure, not in keychain's).
# Needs hyperfine, curl, python3, libfaketime and OpenBao (sh ../shared/openbao/install.sh).
#   [KEYCHAIN_BENCH_BEFORE=BINARY] [KEYCHAIN_BENCH_RT=1] benches/openbao.sh [PROCESSES] [EXPIRIES]
#   (default 32 200)
set -euo pipefail
cd "$(dirname "$0")/.."
processes=${1:-32} expiries=${2:-200}
command -v bao >/dev/null || { echo "bao not found: sh ../shared/openbao/install.sh (as root)" >&2; exit 1; }
command -v hyperfine >/dev/null || { echo "hyperfine not found" >&2; exit 1; }
cargo build --release --quiet --bin keychain --example exact_emulator --example openbao_stampede
bin=$PWD/target/release/keychain
work=$(mktemp -d)
# Both builds are timed from plain copies in $work: executing the file cargo's linker wrote cost
# 0.4-0.7 ms more CPU per call here than executing a copy of it (same bytes, measured in turn),
# which would favour whichever side KEYCHAIN_BENCH_BEFORE is (usually a copy).
cp "$bin" "$work/keychain" && bin=$work/keychain
if [ -n "${KEYCHAIN_BENCH_BEFORE:-}" ]; then
  cp "$KEYCHAIN_BENCH_BEFORE" "$work/keychain-before" && KEYCHAIN_BENCH_BEFORE=$work/keychain-before
fi
emu_pid= bao_pid=
trap '[ -n "$emu_pid" ] && kill $emu_pid; [ -n "$bao_pid" ] && kill $bao_pid; rm -rf "$work"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# OpenBao: a dev server, one KV v2 mount with cas_required, and per machine a policy for the
# keychain's path only and an AppRole whose tokens carry nothing else, as docs/shared-keychain.md
# sets it up; and for comparison one more keychain (prefix acme-wide) whose role's tokens also
# carry OpenBao's `default` policy, as a role gets it unless told otherwise.
port=$(free_port)
bao_pid=$(PORT=$port BASE=$work/bao TOKEN=root-of-a-bench-server ../shared/openbao/start.sh 2>/dev/null | tail -n1)
export BAO_ADDR=http://127.0.0.1:$port
rt=()
if [ -n "${KEYCHAIN_BENCH_RT:-}" ]; then
  chrt -a -f -p 20 "$bao_pid" >/dev/null && rt=(chrt -f 20) ||
    echo "KEYCHAIN_BENCH_RT: chrt failed (root needed); timing at normal priority" >&2
fi
admin() { BAO_TOKEN=root-of-a-bench-server bao "$@"; }
mount=keychain prefix=acme
admin secrets enable -path=$mount -version=2 kv >/dev/null
admin write $mount/config cas_required=true >/dev/null
admin auth enable approle >/dev/null
policy() { # prefix: the policy kc-PREFIX allows that keychain's path and nothing else
  admin policy write kc-$1 - >/dev/null <<P
path "$mount/data/$1/*"     { capabilities = ["create", "read", "update", "delete"] }
path "$mount/metadata/$1/*" { capabilities = ["create", "read", "update", "list", "delete"] }
path "$mount/metadata/$1"   { capabilities = ["list"] }
path "$mount/delete/$1/*"   { capabilities = ["update"] }
path "$mount/config"        { capabilities = ["read"] }
path "auth/token/lookup-self" { capabilities = ["read"] }
P
}
approle() { # machine prefix [default policy: false]: writes $work/MACHINE.role-id and .secret-id (0600)
  admin write auth/approle/role/$1 token_policies=kc-$2 token_no_default_policy=$(( ${3:-0} ? 0 : 1 )) \
    token_ttl=15m token_max_ttl=1h >/dev/null
  (umask 077
   admin read -field=role_id auth/approle/role/$1/role-id >"$work/$1.role-id"
   admin write -f -field=secret_id auth/approle/role/$1/secret-id >"$work/$1.secret-id")
}
policy $prefix; policy stampede; policy $prefix-wide
approle bench $prefix; approle a stampede; approle b stampede; approle wide $prefix-wide 1

target/release/examples/exact_emulator >"$work/emu.out" 2>/dev/null &
emu_pid=$!
for _ in $(seq 100); do [ -s "$work/emu.out" ] && break; sleep 0.05; done
emu=http://127.0.0.1:$(head -n1 "$work/emu.out")
printf 'exact-pass-1\n' >"$work/epw"; printf 'JBSWY3DPEHPK3PXP' >"$work/totp"; printf 'exact-secret' >"$work/ecs"
add_emu() { # keychain-dir name
  KEYCHAIN_DIR=$1 "$bin" add "$2" --provider exact-nl --authorize-url "$emu/api/oauth2/auth" \
    --token-url "$emu/api/oauth2/token" --client-id exact-client \
    --redirect-uri http://127.0.0.1:8765/callback --user exact-user@example.com \
    --password-file "$work/epw" --totp-file "$work/totp" --client-secret-file "$work/ecs" 2>/dev/null
}

echo "== 1. login from a valid cache: OpenBao store vs local store vs bao kv get (release build, file key store)"
KEYCHAIN_DIR=$work/local "$bin" init --key-store file >/dev/null 2>&1
KEYCHAIN_DIR=$work/shared "$bin" init --store openbao --addr "$BAO_ADDR" --mount $mount --path $prefix \
  --role-id-file "$work/bench.role-id" --secret-id-file "$work/bench.secret-id" --key-store file >/dev/null 2>&1
KEYCHAIN_DIR=$work/shared-wide "$bin" init --store openbao --addr "$BAO_ADDR" --mount $mount \
  --path $prefix-wide --role-id-file "$work/wide.role-id" --secret-id-file "$work/wide.secret-id" \
  --key-store file >/dev/null 2>&1
for kc in local shared shared-wide; do add_emu "$work/$kc" cached; done
# The accounts' first tokens come from the emulator: one headless logon each, 30 s apart on its
# clock (a fresh TOTP step).
KEYCHAIN_DIR=$work/local "$bin" login cached >/dev/null
for kc in shared shared-wide; do
  curl -s -X POST "$emu/__admin/advance?seconds=30" >/dev/null
  KEYCHAIN_DIR=$work/$kc "$bin" login cached >/dev/null
done
# `bao kv get` reads the same record with a token of the same policy, from the token file the
# bao CLI reads when BAO_TOKEN is unset ($HOME/.vault-token): no token in an argument list, and
# none in keychain's environment.
mkdir -m 700 "$work/home"
(umask 077; curl -sf -X POST "$BAO_ADDR/v1/auth/approle/login" \
  --data-binary @- <<<"{\"role_id\":\"$(cat "$work/bench.role-id")\",\"secret_id\":\"$(cat "$work/bench.secret-id")\"}" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["auth"]["client_token"], end="")' >"$work/home/.vault-token")
record=$(admin kv list -format=json -mount=$mount $prefix/records | python3 -c 'import json,sys; print([k for k in json.load(sys.stdin) if k.startswith("cached")][0])')
HOME=$work/home bao kv get -mount=$mount "$prefix/records/$record" >/dev/null || {
  echo "bao kv get of $prefix/records/$record failed" >&2; exit 1; }
# KEYCHAIN_BENCH_BEFORE=BINARY (an earlier build of keychain) adds its cached login on the same
# OpenBao keychain to the same hyperfine groups: before and after, measured side by side.
# hyperfine runs each command as one block, and a block's place in the run moved its median here
# by more than the goal's margin (the same pair, one run after another: 1.30x, 1.45x, 1.53x). So
# the logins are timed in hyperfine groups of 100 runs, the order of the commands turned by one
# place each time, and each command's runs of all groups are pooled: twice as many groups as
# commands (six for the three logins, eight with KEYCHAIN_BENCH_BEFORE), so that every command has
# run in every place equally often (four groups of three commands put the first one first twice,
# and a block's place moves its median). `bao kv get` (0.1 s a call) has a group of its own.
names=("keychain login (OpenBao store)" "keychain login (local store)")
commands=("$bin --dir $work/shared login cached" "$bin --dir $work/local login cached")
if [ -n "${KEYCHAIN_BENCH_BEFORE:-}" ]; then
  names+=("keychain login (OpenBao store, KEYCHAIN_BENCH_BEFORE)")
  commands+=("$KEYCHAIN_BENCH_BEFORE --dir $work/shared login cached")
fi
names+=("keychain login (OpenBao store, a role with the default policy)")
commands+=("$bin --dir $work/shared-wide login cached")
groups=$(( 2 * ${#names[@]} ))
for group in $(seq 0 $(( groups - 1 ))); do
  args=()
  for k in "${!names[@]}"; do
    i=$(( (k + group) % ${#names[@]} ))
    args+=(--command-name "${names[$i]}" "${commands[$i]}")
  done
  HOME=$work/home "${rt[@]}" hyperfine -N --warmup 10 --runs 100 --export-json "$work/h$group.json" \
    "${args[@]}" >/dev/null 2>&1
done
HOME=$work/home hyperfine -N --warmup 2 --runs 20 --export-json "$work/bao.json" \
  --command-name "bao kv get (same record)" "${rt:+chrt -o 0 }bao kv get -mount=$mount $prefix/records/$record" \
  >/dev/null 2>&1
# Pooled into one file shaped as hyperfine's, in the order the rest of the bench reads:
# OpenBao store, local store, bao kv get, then the others (KEYCHAIN_BENCH_BEFORE's, the role with
# the default policy).
python3 - "$work" "$groups" "${names[@]}" <<'PY'
import json, statistics, sys
work, groups, names = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
pooled = {name: {"times": [], "user": [], "system": []} for name in names}
per_group = {name: [] for name in names}
for group in range(groups):
    for x in json.load(open(f"{work}/h{group}.json"))["results"]:
        p = pooled[x["command"]]
        p["times"] += x["times"]
        p["user"].append(x["user"])
        p["system"].append(x["system"])
        per_group[x["command"]].append(x["median"])
def result(name, p):
    return {"command": name, "median": statistics.median(p["times"]), "mean": statistics.mean(p["times"]),
            "stddev": statistics.stdev(p["times"]), "user": statistics.mean(p["user"]),
            "system": statistics.mean(p["system"])}
results = [result(name, pooled[name]) for name in names]
results.insert(2, json.load(open(f"{work}/bao.json"))["results"][0])
json.dump({"results": results}, open(f"{work}/h.json", "w"))
shared, local = per_group[names[0]], per_group[names[1]]
print("  per group (OpenBao / local store, medians of 100 runs each): "
      + ", ".join(f"{a / b:.2f}x" for a, b in zip(shared, local)))
PY
python3 - "$work/h.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
base = r[0]
for x in r:
    print(f'  median {x["median"]*1000:7.3f} ms, mean {x["mean"]*1000:7.3f} ms ±{x["stddev"]*1000:6.3f}, '
          f'user+sys {(x["user"]+x["system"])*1000:6.3f} ms  {x["command"]}')
cpu = lambda x: x["user"] + x["system"]
print(f'  OpenBao store / local store: {base["median"]/r[1]["median"]:.2f}x (goal <= 1.5x; the groups pooled); '
      f'CPU (user+sys) {cpu(base)/cpu(r[1]):.2f}x')
print(f'  OpenBao store / bao kv get:  {base["median"]/r[2]["median"]:.2f}x (goal <= 0.5x)')
for x in r[3:]:
    print(f'  {x["command"].removeprefix("keychain login (").removesuffix(")")} / local store: '
          f'{x["median"]/r[1]["median"]:.2f}x; CPU (user+sys) {cpu(x)/cpu(r[1]):.2f}x')
PY
echo "  load average: $(cut -d' ' -f1-3 /proc/loadavg)"
# The server's share of the two cores: OpenBao's own CPU time (utime+stime of its process, from
# /proc) over 200 cached logins one after the other, per login. Here it runs beside keychain;
# a deployed OpenBao runs on a machine of its own.
ticks() { awk '{print $14 + $15}' "/proc/$bao_pid/stat"; }
for kc in shared shared-wide shared shared-wide; do
  t0=$(ticks)
  for _ in $(seq 200); do "$bin" --dir "$work/$kc" login cached >/dev/null; done
  echo "  OpenBao's own CPU per cached login (two requests), $([ $kc = shared ] && echo "the role as documented" || echo "a role with the default policy"): $(( ($(ticks) - t0) * 1000000 / $(getconf CLK_TCK) / 200 )) us"
done
# The floor: one KV v2 write (check-and-set, a new key each time, a body the size of an event)
# and one read of it, each on a new connection as a keychain process makes them, timed inside
# one python3 process (no process start), with the same token as `bao kv get` above.
"${rt[@]}" python3 - "$BAO_ADDR" "$work/home/.vault-token" "$mount" "$prefix" "$work/h.json" <<'PY'
import http.client, json, statistics, sys, time, urllib.parse
addr, token_file, mount, prefix, results = sys.argv[1:]
url = urllib.parse.urlsplit(addr)
token = open(token_file).read().strip()
def call(method, path, body=None):
    conn = http.client.HTTPConnection(url.hostname, url.port)
    started = time.perf_counter()
    conn.request(method, f"/v1/{mount}/data/{prefix}/{path}", body, {"X-Vault-Token": token})
    answer = conn.getresponse(); answer.read()
    took = time.perf_counter() - started
    conn.close()
    assert answer.status == 200, (method, path, answer.status)
    return took
body = json.dumps({"options": {"cas": 0}, "data": {"value": "e" * 440}})
writes = [call("POST", f"floor/{i}", body) for i in range(300)]
reads = [call("GET", f"floor/{i}") for i in range(300)]
local = json.load(open(results))["results"][1]["median"]
w, g = statistics.median(writes), statistics.median(reads)
print(f'  floor: one KV write {w*1000:.3f} ms, one read {g*1000:.3f} ms (medians); '
      f'a write alone is {w/local:.2f}x the local store\'s login')
PY

# Figures that a loaded machine moves less: each login's CPU time (user+sys of the process and
# its threads, from wait4) and wall time, the commands taken in turn within each round (so that
# a load that comes and goes falls on all of them alike), medians of 200 rounds.
"${rt[@]}" python3 - "$work" "$bin" "${KEYCHAIN_BENCH_BEFORE:-}" <<'PY'
import os, statistics, subprocess, sys, time
work, bin, before = sys.argv[1:]
margin = ["--min-valid", "300"]
commands = [("OpenBao store", [bin, "--dir", f"{work}/shared", "login", "cached"]),
            ("local store", [bin, "--dir", f"{work}/local", "login", "cached"]),
            ("OpenBao store, in the clock margin", [bin, "--dir", f"{work}/shared", "login", "cached"] + margin)]
if before:
    commands.append(("OpenBao store, before", [before, "--dir", f"{work}/shared", "login", "cached"]))
    commands.append(("OpenBao store, in the clock margin, before",
                     [before, "--dir", f"{work}/shared", "login", "cached"] + margin))
cpu = {name: [] for name, _ in commands}
wall = {name: [] for name, _ in commands}
devnull = os.open(os.devnull, os.O_RDWR)
for round in range(200):
    for name, argv in commands[round % len(commands):] + commands[:round % len(commands)]:
        started = time.perf_counter()
        pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=[
            (os.POSIX_SPAWN_DUP2, devnull, 1), (os.POSIX_SPAWN_DUP2, devnull, 2)])
        _, status, usage = os.wait4(pid, 0)
        wall[name].append(time.perf_counter() - started)
        assert os.waitstatus_to_exitcode(status) == 0, (name, status)
        cpu[name].append(usage.ru_utime + usage.ru_stime)
med = lambda xs: statistics.median(xs) * 1000
local = "local store"
for name, _ in commands:
    print(f'  in turn, 200 rounds: {name}: CPU {med(cpu[name]):.3f} ms ({med(cpu[name])/med(cpu[local]):.2f}x), '
          f'wall {med(wall[name]):.3f} ms ({med(wall[name])/med(wall[local]):.2f}x) (medians)')
import json
json.dump({name: {"cpu": med(cpu[name]), "wall": med(wall[name])} for name, _ in commands},
          open(f"{work}/turn.json", "w"))
PY
# Counts that load does not move: user-space instructions (callgrind, all threads; the least of
# three calls, as the local store's log rewrites its index now and then) and system calls and
# threads started (strace -f -c), one call each.
instructions() { # binary store
  for _ in 1 2 3; do
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$1" --dir "$work/$2" login cached 2>&1 >/dev/null |
      awk '/Collected/ {print $NF}'
  done | sort -n | head -n1
}
syscalls() { # binary store: "calls threads"
  strace -f -c -o "$work/strace.txt" "$1" --dir "$work/$2" login cached >/dev/null 2>&1
  awk '$NF == "total" {calls = $4} $NF ~ /^clone/ {threads += $4} END {print calls + 0, threads + 0}' "$work/strace.txt"
}
counts=()
for run in "after $bin shared" "local $bin local" ${KEYCHAIN_BENCH_BEFORE:+"before $KEYCHAIN_BENCH_BEFORE shared"}; do
  set -- $run
  ir=- sc="- -"
  command -v valgrind >/dev/null && ir=$(instructions "$2" "$3")
  command -v strace >/dev/null && sc=$(syscalls "$2" "$3")
  counts+=("$1 $ir $sc")
done
# Side by side: the figures the issue asks for (OpenBao / local store, one hyperfine group's
# medians), this build's and KEYCHAIN_BENCH_BEFORE's, with CPU, in turn, and the counts.
python3 - "$work" "${counts[@]}" <<'PY'
import json, sys
work, counts = sys.argv[1], sys.argv[2:]
h = json.load(open(f"{work}/h.json"))["results"]
turn = json.load(open(f"{work}/turn.json"))
c = {}
for line in counts:
    name, ir, calls, threads = line.split()
    c[name] = (ir, calls, threads)
cpu = lambda x: x["user"] + x["system"]
rows = [("after", h[0], turn["OpenBao store"])]
before = [x for x in h if x["command"].endswith("KEYCHAIN_BENCH_BEFORE)")]
if before:
    rows.append(("before", before[0], turn["OpenBao store, before"]))
local_h, local_t = h[1], turn["local store"]
print("  side by side, OpenBao store / local store (goal <= 1.5x, the hyperfine median):")
print("            hyperfine wall   CPU    in turn wall   CPU    instructions  syscalls  threads started")
for name, x, t in rows:
    ir, calls, threads = c.get(name, ("-", "-", "-"))
    lir = c["local"][0]
    ratio = f"{int(ir)/int(lir):.2f}x" if ir != "-" and lir != "-" else "-"
    print(f"  {name:8}  {x['median']/local_h['median']:13.2f}x {cpu(x)/cpu(local_h):5.2f}x"
          f"  {t['wall']/local_t['wall']:12.2f}x {t['cpu']/local_t['cpu']:5.2f}x"
          f"  {ratio:>12}  {calls:>8}  {threads:>15}")
lir, lcalls, lthreads = c["local"]
print(f"  local     {local_h['median']*1000:10.3f} ms  {cpu(local_h)*1000:.3f} ms"
      f"  {local_t['wall']:9.3f} ms {local_t['cpu']:.3f} ms  "
      f"{(str(round(int(lir)/1e6, 2)) + ' M') if lir != '-' else '-':>11}  {lcalls:>8}  {lthreads:>15}")
if len(rows) > 1:
    a, b = rows[0][1], rows[1][1]
    print(f"  after / before: hyperfine wall {a['median']/b['median']:.2f}x, CPU {cpu(a)/cpu(b):.2f}x; "
          f"in turn wall {rows[0][2]['wall']/rows[1][2]['wall']:.2f}x, CPU {rows[0][2]['cpu']/rows[1][2]['cpu']:.2f}x")
PY

# `audit verify` reads the whole shared trail from the store (every login above wrote an event):
# with several reads in flight against one by one (KEYCHAIN_BENCH_BEFORE, if it is older).
echo "== 1b. audit verify of the shared trail ($("$bin" --dir "$work/shared" audit verify 2>&1 | head -n1))"
hyperfine -N --warmup 1 --runs 5 --export-json "$work/verify.json" \
  --command-name "audit verify (OpenBao store)" "$bin --dir $work/shared audit verify" \
  ${KEYCHAIN_BENCH_BEFORE:+--command-name "audit verify (OpenBao store, KEYCHAIN_BENCH_BEFORE)"} \
  ${KEYCHAIN_BENCH_BEFORE:+"$KEYCHAIN_BENCH_BEFORE --dir $work/shared audit verify"} 2>/dev/null |
  grep -E "Time|^Benchmark" || true
[ -s "$work/verify.json" ] && python3 - "$work/verify.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
for x in r:
    print(f"  median {x['median']*1000:9.1f} ms  {x['command']}")
if len(r) > 1:
    print(f"  audit verify, after / before: {r[0]['median']/r[1]['median']:.2f}x")
PY
[ -s "$work/verify.json" ] || echo "  audit verify: no figure (a run failed; see above)"

echo "== 2. 2 machines x $processes processes x $expiries expiries (emulator, file key stores)"
KC_BAO_ADDR=$BAO_ADDR KC_BAO_MOUNT=$mount KC_BAO_PATH=stampede \
KC_BAO_ROLE_ID_FILE_A=$work/a.role-id KC_BAO_SECRET_ID_FILE_A=$work/a.secret-id \
KC_BAO_ROLE_ID_FILE_B=$work/b.role-id KC_BAO_SECRET_ID_FILE_B=$work/b.secret-id \
  target/release/examples/openbao_stampede "$processes" "$expiries"
