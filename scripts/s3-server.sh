#!/usr/bin/env bash
# Starts or stops a local S3 server (s3s-fs, installed by scripts/install-tools.sh) serving
# DIR on 127.0.0.1:PORT. Every top-level directory of DIR is a bucket.
#
#   scripts/s3-server.sh start DIR PORT   # returns once the port answers; writes DIR.pid
#   scripts/s3-server.sh stop DIR PORT
#
# Credentials: S3_ACCESS_KEY / S3_SECRET_KEY (defaults below). Point clients at it with
#   AWS_ENDPOINT_URL=http://127.0.0.1:PORT AWS_ALLOW_HTTP=true AWS_REGION=us-east-1
#   AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { echo "usage: $0 start|stop DIR PORT" >&2; exit 2; }
[[ $# -eq 3 ]] || usage
cmd=$1 port=$3
mkdir -p "$2"
dir=$(cd "$2" && pwd)
# Pid and log files sit beside DIR, not in it: anything inside DIR would be served.
pidfile="$dir.pid"
logfile="$dir.log"
access_key=${S3_ACCESS_KEY:-tilefn-test}
secret_key=${S3_SECRET_KEY:-tilefn-test-secret}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }

case $cmd in
start)
    command -v s3s-fs >/dev/null || { echo "s3s-fs not found: run scripts/install-tools.sh" >&2; exit 1; }
    if [[ -f $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
        echo "s3-server: already running (pid $(cat "$pidfile"))" >&2
        exit 0
    fi
    if port_open; then
        echo "s3-server: port $port is already in use" >&2
        exit 1
    fi
    s3s-fs --host 127.0.0.1 --port "$port" --access-key "$access_key" --secret-key "$secret_key" "$dir" \
        >"$logfile" 2>&1 &
    echo $! >"$pidfile"
    for _ in $(seq 100); do
        if port_open; then
            echo "s3-server: s3s-fs pid $(cat "$pidfile") on http://127.0.0.1:$port serving $dir" >&2
            exit 0
        fi
        if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
            echo "s3-server: s3s-fs exited; log:" >&2
            cat "$logfile" >&2
            rm -f "$pidfile"
            exit 1
        fi
        sleep 0.1
    done
    echo "s3-server: port $port did not open within 10 s" >&2
    exit 1
    ;;
stop)
    if [[ -f $pidfile ]]; then
        pid=$(cat "$pidfile")
        kill "$pid" 2>/dev/null || true
        # s3s-fs drains connections for up to 10 s after SIGINT/SIGTERM; give it 5, then kill.
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
        rm -f "$pidfile"
    fi
    ;;
*) usage ;;
esac
