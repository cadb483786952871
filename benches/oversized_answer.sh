#!/usr/bin/env bash
# Issue 8, defect 5: what an endless token answer costs `keychain login`. A python3 server on
# 127.0.0.1 answers every request with MIB mebibytes of JSON, chunked (no Content-Length, so
# the size is not known up front); the script prints the exit code, keychain's peak resident
# memory and the wall time, from GNU time.
#   benches/oversized_answer.sh [MIB]     (default 4096, the 4 GiB of the issue)
# Needs python3 and /usr/bin/time. Uses the release build when present, else the debug one.
set -euo pipefail
cd "$(dirname "$0")/.."
mib=${1:-4096}
bin=$PWD/target/release/keychain
[ -x "$bin" ] || { cargo build --quiet --bin keychain; bin=$PWD/target/debug/keychain; }
work=$(mktemp -d)
srv_pid=
trap '[ -n "$srv_pid" ] && kill $srv_pid 2>/dev/null; rm -rf "$work"' EXIT

python3 - "$mib" >"$work/port" <<'EOF' &
import http.server, socketserver, sys
mib = int(sys.argv[1])
class Endless(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunk = b"x" * (1 << 20)
        try:
            self.wfile.write(b'9\r\n{"pad":"x\r\n')
            for _ in range(mib):
                self.wfile.write(b"100000\r\n" + chunk + b"\r\n")
            self.wfile.write(b'2\r\n"}\r\n0\r\n\r\n')
        except (BrokenPipeError, ConnectionResetError):
            pass
    def log_message(self, *a): pass
with socketserver.TCPServer(("127.0.0.1", 0), Endless) as s:
    print(s.server_address[1], flush=True)
    s.serve_forever()
EOF
srv_pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
url=http://127.0.0.1:$(head -n1 "$work/port")

export KEYCHAIN_DIR=$work/kc
"$bin" init --key-store file >/dev/null 2>&1
printf 'rt-0123456789' >"$work/rt"
"$bin" add big --provider oauth2 --authorize-url "$url/auth" --token-url "$url/token" \
  --client-id c --user u --no-password --no-totp --refresh-token-file "$work/rt" --no-client-secret 2>/dev/null
set +e
/usr/bin/time -f "peak RSS %M KiB, %e s wall" -o "$work/time" "$bin" login big >/dev/null 2>"$work/err"
code=$?
set -e
echo "answer: $mib MiB chunked; keychain login exit $code; $(tail -n1 "$work/time")"
echo "stderr: $(head -n1 "$work/err")"
