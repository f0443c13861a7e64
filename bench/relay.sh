#!/usr/bin/env bash
# media-relay against nginx proxy_cache and Varnish, side by side on this machine.
#
# One nginx serves the origin files (64 KiB, 1 MiB, and an HLS-like set: a playlist and 2 s
# segments of ~256 KiB) and, on a second port, a proxy_cache in front of that origin, with
# `worker_processes auto` (one worker per core, as nginx is deployed). Varnish (malloc
# storage, its default thread pools) fronts the same origin on a third port.
# media-relay fronts the same origin with metering on: it runs against `media localnet` as a
# registered provider, every request carries a valid session token from `media gateway` and is
# counted, and the credit window is larger than the run. wrk drives both in turn with the
# same settings; the script prints requests/s, MiB/s and p99 latency for each and relay/nginx.
#
# A last row times a cold miss of 64 MiB (first byte and last) through each.
#
# Usage: bench/relay.sh [DURATION_SECONDS (default 10)] [CONNECTIONS (default 32)]
# HTTP_THREADS=N sets the relay's http_threads (0: its shared runtime).
# PROFILE=FILE also samples the relay with perf during one more 64 KiB run and writes the
# report (self time by symbol) to FILE.
# Needs nginx, varnish and wrk (Debian packages; installed if missing when run as root).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
CONNECTIONS=${2:-32}
THREADS=2
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/media-target}"

for tool in nginx:nginx wrk:wrk varnishd:varnish; do
  if ! command -v "${tool%%:*}" >/dev/null; then
    echo "== installing ${tool#*:}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${tool#*:}" >/dev/null
  fi
done

echo "== building (profile bench-fast for the relay)"
cargo build -q --locked -p media-cli
cargo build -q --locked --profile bench-fast -p media-relay
MEDIA="$CARGO_TARGET_DIR/debug/media"
RELAY="$CARGO_TARGET_DIR/bench-fast/media-relay"

WORK=$(mktemp -d)
chmod 755 "$WORK" # nginx workers read the origin files and write the cache
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
  [ -f "$WORK/varnish.pid" ] && kill "$(cat "$WORK/varnish.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
  if [ -n "${KEEP:-}" ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() { for _ in $(seq 1 300); do curl -sS --fail-with-body -o /dev/null "$1" && return 0; sleep 0.1; done; echo "timed out waiting for $1" >&2; return 1; }

echo "== origin files"
mkdir -p "$WORK/www/live"
head -c 65536 /dev/urandom > "$WORK/www/64k.bin"
head -c 1048576 /dev/urandom > "$WORK/www/1m.bin"
printf '#EXTM3U\n#EXT-X-TARGETDURATION:2\n' > "$WORK/www/live/index.m3u8"
for i in $(seq 0 9); do
  head -c 262144 /dev/urandom > "$WORK/www/live/seg$i.ts"
  printf '#EXTINF:2.0,\nseg%d.ts\n' "$i" >> "$WORK/www/live/index.m3u8"
done
# The cold-miss object: 64 MiB that the origin sends at 32 MiB/s (two seconds), so a cache
# that buffers a miss whole shows it in its first byte.
mkdir -p "$WORK/www/slow"
head -c 67108864 /dev/urandom > "$WORK/www/slow/64m.bin"

ORIGIN_PORT=$(free_port); NGINX_PORT=$(free_port); RELAY_PORT=$(free_port); VARNISH_PORT=$(free_port)
RPC_PORT=$(free_port); GATEWAY_PORT=$(free_port)
cat > "$WORK/nginx.conf" <<EOF
worker_processes auto;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  keepalive_requests 1000000;
  proxy_cache_path $WORK/cache levels=1:2 keys_zone=media:10m max_size=1g inactive=60m use_temp_path=off;
  server {
    listen 127.0.0.1:$ORIGIN_PORT;
    root $WORK/www;
    location /slow/ { limit_rate 32m; }
  }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / {
      proxy_pass http://127.0.0.1:$ORIGIN_PORT;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache media;
      proxy_cache_lock on;
      proxy_cache_valid 200 1h;
    }
  }
}
EOF
mkdir -p "$WORK/cache" && chmod 777 "$WORK/cache" && chmod -R a+rX "$WORK/www"
nginx -c "$WORK/nginx.conf"
# Varnish: every origin answer cacheable for an hour (as nginx's proxy_cache_valid); the
# session header is not a cookie or Authorization, so the default VCL caches.
cat > "$WORK/varnish.vcl" <<EOF
vcl 4.1;
backend origin { .host = "127.0.0.1"; .port = "$ORIGIN_PORT"; }
sub vcl_backend_response { set beresp.ttl = 1h; }
EOF
mkdir -p "$WORK/varnish"
varnishd -a "127.0.0.1:$VARNISH_PORT" -f "$WORK/varnish.vcl" -s malloc,1G \
  -n "$WORK/varnish" -P "$WORK/varnish.pid" > "$WORK/varnish.log" 2>&1
wait_for "http://127.0.0.1:$VARNISH_PORT/64k.bin"

echo "== localnet, provider, consumer, gateway"
"$MEDIA" localnet --port "$RPC_PORT" --epoch-secs 5 > "$WORK/localnet.log" 2>&1 &
PIDS+=($!)
wait_for_rpc() { for _ in $(seq 1 600); do "$MEDIA" -u "http://127.0.0.1:$RPC_PORT" status >/dev/null 2>&1 && return 0; sleep 0.2; done; return 1; }
wait_for_rpc
keygen() { python3 - "$1" <<'PY'
import json, os, sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization as s
k = Ed25519PrivateKey.generate()
sk = k.private_bytes(s.Encoding.Raw, s.PrivateFormat.Raw, s.NoEncryption())
pk = k.public_key().public_bytes(s.Encoding.Raw, s.PublicFormat.Raw)
json.dump(list(sk + pk), open(sys.argv[1], "w"))
PY
}
pubkey() { python3 -c '
import json,sys
a="123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
b=bytes(json.load(open(sys.argv[1]))[32:]); n=int.from_bytes(b,"big"); o=""
while n: n,r=divmod(n,58); o=a[r]+o
print("1"*(len(b)-len(b.lstrip(b"\0")))+o)' "$1"; }
for k in provider node consumer signer; do keygen "$WORK/$k.json"; done
M() { "$MEDIA" -u "http://127.0.0.1:$RPC_PORT" "$@" >/dev/null; }
M -k "$WORK/provider.json" airdrop 10 --media 1000
M -k "$WORK/node.json" airdrop 10
M -k "$WORK/consumer.json" airdrop 10 --media 1000 --payment 100000
M -k "$WORK/provider.json" stake 100
M -k "$WORK/consumer.json" stake 100
sleep 11 # warm-up (two epochs of 5 s, at least 10 s)
M -k "$WORK/provider.json" provider register --endpoint "http://127.0.0.1:$RELAY_PORT" --region bench --bond 50 --node-keypair "$WORK/node.json"
M -k "$WORK/consumer.json" consumer register --bond 50 --receipt-signer "$(pubkey "$WORK/signer.json")"
M -k "$WORK/consumer.json" consumer deposit 100000
CONSUMER=$(pubkey "$WORK/consumer.json")
"$MEDIA" gateway --listen "127.0.0.1:$GATEWAY_PORT" --consumer "$CONSUMER" \
  --receipt-signer "$WORK/signer.json" --store "$WORK/gateway.redb" \
  --max-bytes-per-session 1099511627776 > "$WORK/gateway.log" 2>&1 &
PIDS+=($!)
wait_for "http://127.0.0.1:$GATEWAY_PORT/health"

cat > "$WORK/relay.toml" <<EOF
listen = "127.0.0.1:$RELAY_PORT"
node_keypair = "$WORK/node.json"
rpc_url = "http://127.0.0.1:$RPC_PORT"
store = "$WORK/relay.redb"
memory_cache_bytes = 1073741824
credit_window_bytes = 1099511627776
cosign_interval_secs = 5
# The origin is this machine's nginx.
allow_private_origins = true
${HTTP_THREADS:+http_threads = $HTTP_THREADS}

[[consumers]]
owner = "$CONSUMER"
origin = "http://127.0.0.1:$ORIGIN_PORT/"
gateway = "http://127.0.0.1:$GATEWAY_PORT/"
EOF
RUST_LOG=warn "$RELAY" --config "$WORK/relay.toml" > "$WORK/relay.log" 2>&1 &
RELAY_PID=$!
PIDS+=($RELAY_PID)
wait_for "http://127.0.0.1:$RELAY_PORT/health"
sleep 2 # one chain refresh
HEALTH=$(curl -sS "http://127.0.0.1:$RELAY_PORT/health")
if ! echo "$HEALTH" | python3 -c 'import json,sys; h=json.load(sys.stdin); sys.exit(0 if all(c["served"] for c in h["consumers"].values()) else 1)'; then
  echo "the relay does not serve the consumer: $HEALTH" >&2
  exit 1
fi
SESSION_KEY=$(keygen "$WORK/session.json"; pubkey "$WORK/session.json")
TOKEN=$(curl -sS --fail-with-body -X POST -H 'content-type: application/json' \
  -d "{\"session_key\":\"$SESSION_KEY\"}" "http://127.0.0.1:$GATEWAY_PORT/session" |
  python3 -c 'import json,sys; a=json.load(sys.stdin); print(a["token"]) if "token" in a else sys.exit(f"the gateway gave no session token: {a}")')

# wrk picks one path per run; the HLS-like set cycles through the playlist and segments.
cat > "$WORK/hls.lua" <<'EOF'
local paths = {}
counter = 0
function init(args)
  local prefix = args[1]
  paths[1] = prefix .. "live/index.m3u8"
  for i = 0, 9 do paths[#paths + 1] = prefix .. "live/seg" .. i .. ".ts" end
end
function request()
  counter = counter + 1
  return wrk.format("GET", paths[(counter % #paths) + 1])
end
EOF

run_wrk() { # name url-prefix path-or-hls
  local name=$1 base=$2 target=$3 out
  if [ "$target" = hls ]; then
    out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -H "X-Media-Session: $TOKEN" \
      -s "$WORK/hls.lua" "$base" -- "$4")
  else
    curl -sS --fail-with-body -o /dev/null -H "X-Media-Session: $TOKEN" "$base$target" # warm the cache
    out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -H "X-Media-Session: $TOKEN" "$base$target")
  fi
  python3 - "$name" <<PY
import re, sys
out = """$out"""
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
m = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", out)
scale = {"B": 1 / 2**20, "KB": 1 / 1024, "MB": 1, "GB": 1024}[m.group(2)]
mib = float(m.group(1)) * scale
p = re.search(r"99%\s+([\d.]+)(\w+)", out)
ms = float(p.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[p.group(2)]
errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
print(f"{sys.argv[1]} {rps:.1f} {mib:.1f} {ms:.2f} {errors.group(1) if errors else 0}")
PY
}

echo "== wrk: ${DURATION}s, $CONNECTIONS connections, $THREADS threads per run"
RESULTS="$WORK/results"
: > "$RESULTS"
for object in 64k.bin 1m.bin hls; do
  nginx_base="http://127.0.0.1:$NGINX_PORT/"
  varnish_base="http://127.0.0.1:$VARNISH_PORT/"
  relay_base="http://127.0.0.1:$RELAY_PORT/c/$CONSUMER/"
  if [ "$object" = hls ]; then
    for p in live/index.m3u8 $(seq -f 'live/seg%g.ts' 0 9); do
      curl -sS --fail-with-body -o /dev/null "$nginx_base$p"
      curl -sS --fail-with-body -o /dev/null "$varnish_base$p"
      curl -sS --fail-with-body -o /dev/null -H "X-Media-Session: $TOKEN" "$relay_base$p"
    done
    echo "nginx-$object $(run_wrk nginx "$nginx_base" hls "/")" >> "$RESULTS"
    echo "varnish-$object $(run_wrk varnish "$varnish_base" hls "/")" >> "$RESULTS"
    echo "relay-$object $(run_wrk relay "http://127.0.0.1:$RELAY_PORT" hls "/c/$CONSUMER/")" >> "$RESULTS"
  else
    echo "nginx-$object $(run_wrk nginx "$nginx_base" "$object")" >> "$RESULTS"
    echo "varnish-$object $(run_wrk varnish "$varnish_base" "$object")" >> "$RESULTS"
    echo "relay-$object $(run_wrk relay "$relay_base" "$object")" >> "$RESULTS"
  fi
done

# Time to first byte of a cold 64 MiB miss, and to its last, through each (the origin takes
# about two seconds to send it).
ttfb() { # name url [header]
  curl -sS --fail-with-body -o /dev/null -w "$1 %{time_starttransfer} %{time_total}\n" ${3:+-H "$3"} "$2"
}
TTFB="$WORK/ttfb"
{
  ttfb nginx "http://127.0.0.1:$NGINX_PORT/slow/64m.bin"
  ttfb varnish "http://127.0.0.1:$VARNISH_PORT/slow/64m.bin"
  ttfb relay "http://127.0.0.1:$RELAY_PORT/c/$CONSUMER/slow/64m.bin" "X-Media-Session: $TOKEN"
} > "$TTFB"

if [ -n "${PROFILE:-}" ]; then
  # Where the relay's time goes on 64 KiB hits: perf samples it during one more wrk run.
  echo "== profiling the relay on 64k.bin into $PROFILE"
  perf record -F 999 -g -o "$WORK/perf.data" -p "$RELAY_PID" -- sleep "$DURATION" > /dev/null 2>&1 &
  PERF=$!
  run_wrk relay "$relay_base" 64k.bin > /dev/null
  wait "$PERF" || true
  perf report -i "$WORK/perf.data" --no-children --sort symbol --percent-limit 0.7 --stdio 2>/dev/null |
    grep -v '^$' > "$PROFILE"
fi

METERED=$(curl -sS --fail-with-body "http://127.0.0.1:$RELAY_PORT/metrics" | awk '/^media_relay_bytes_total/ {print $2}')
python3 - "$RESULTS" "$METERED" "$TTFB" <<'PY'
import sys
rows = {}
for line in open(sys.argv[1]):
    key, name, rps, mib, p99, errors = line.split()
    rows[key] = (float(rps), float(mib), float(p99), int(errors))
print()
print(f"{'object':<10}{'server':<8}{'req/s':>10}{'MiB/s':>10}{'p99 ms':>10}{'non-2xx':>9}")
for obj in ["64k.bin", "1m.bin", "hls"]:
    for server in ["nginx", "varnish", "relay"]:
        rps, mib, p99, errors = rows[f"{server}-{obj}"]
        print(f"{obj:<10}{server:<8}{rps:>10.1f}{mib:>10.1f}{p99:>10.2f}{errors:>9}")
    r = rows[f"relay-{obj}"]
    for reference in ["nginx", "varnish"]:
        n = rows[f"{reference}-{obj}"]
        print(f"{obj:<10}{'ratio':<8}{r[0]/n[0]:>10.2f}{r[1]/n[1]:>10.2f}{r[2]/n[2]:>10.2f}   (relay/{reference})")
print()
print("cold miss, 64 MiB from an origin sending 32 MiB/s:")
print(f"{'server':<8}{'first byte ms':>15}{'last byte ms':>14}")
for line in open(sys.argv[3]):
    name, first, last = line.split()
    print(f"{name:<8}{float(first) * 1000:>15.1f}{float(last) * 1000:>14.1f}")
print()
print(f"bytes metered by the relay over the run: {sys.argv[2]}")
PY
