#!/usr/bin/env bash
# Builds one tilefn layer on Kubernetes: `plan` here, one Indexed Job per stage
# (stage-job.yaml), each started when the previous one is Complete, then `commit` here.
#
#   IMAGE=registry.example.com/tilefn-ingest:TAG ingest/k8s/run.sh \
#       --layer dem --store s3://bucket/tiles [plan options] s3://bucket/raw/dem/
#
# Needs here: tilefn-ingest, kubectl (context and namespace set), jq, envsubst (gettext) and
# the store's AWS_* variables; in the cluster: the tilefn-store Secret (secret.yaml).
# Sources must be reachable from the pods (s3:// or http(s):// URLs, not local paths).
# PARALLELISM (default 8) caps the pods of a stage.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
: "${IMAGE:?set IMAGE to an image with tilefn-ingest on PATH}"
export IMAGE PARALLELISM="${PARALLELISM:-8}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

out="$(tilefn-ingest plan "$@" --out "$tmp/plan.json")"
echo "$out"
PLAN_URL="$(sed -n 's/^plan stored at //p' <<<"$out")"
plan="$tmp/plan.json"
LAYER="$(jq -r .options.layer "$plan")"
version="$(jq -r .version "$plan")"
export PLAN_URL LAYER

for k in $(seq 0 $(( $(jq '.stages | length' "$plan") - 1 ))); do
    UNITS="$(jq ".stages[$k] | length" "$plan")"
    UNIT_OFFSET="$(jq ".stages[$k][0]" "$plan")"
    # The Job maps completion index i to unit UNIT_OFFSET + i: only right for a contiguous
    # stage (units are numbered stage by stage today; refuse rather than build wrong units).
    jq -e ".stages[$k] == [range($UNIT_OFFSET; $UNIT_OFFSET + $UNITS)]" "$plan" >/dev/null || {
        echo "run.sh: stage $k's units are not contiguous: $(jq -c ".stages[$k]" "$plan")" >&2
        exit 1
    }
    STAGE="$k"
    JOB_NAME="$(printf 'tilefn-s%s-%s-%s' "$k" "$version" "$LAYER" | tr 'A-Z_.' 'a-z--' | tr -cd 'a-z0-9-' | cut -c1-63 | sed 's/-*$//')"
    export STAGE UNITS UNIT_OFFSET JOB_NAME
    # Only these variables: the pod's own $PLAN_URL/$JOB_COMPLETION_INDEX stay for its shell
    # ($PLAN_URL gets the same value either way).
    envsubst '${JOB_NAME} ${LAYER} ${STAGE} ${UNITS} ${PARALLELISM} ${IMAGE} ${PLAN_URL} ${UNIT_OFFSET}' \
        <"$here/stage-job.yaml" | kubectl apply -f -
    echo "run.sh: stage $k: job/$JOB_NAME, units $UNIT_OFFSET..$(( UNIT_OFFSET + UNITS - 1 ))"
    while :; do
        state="$(kubectl get "job/$JOB_NAME" -o jsonpath='{range .status.conditions[?(@.status=="True")]}{.type} {end}')"
        case " $state " in
            *" Complete "*) break ;;
            *" Failed "*)
                echo "run.sh: job/$JOB_NAME failed; nothing was published. Finished units are kept:" >&2
                echo "  rerun its failed indexes, or: tilefn-ingest run-unit $PLAN_URL N; then tilefn-ingest commit $PLAN_URL" >&2
                exit 1 ;;
        esac
        sleep 10
    done
done

tilefn-ingest commit "$PLAN_URL"
