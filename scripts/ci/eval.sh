#!/usr/bin/env bash
# The GitHub action's eval step (also what the GitLab snippet in docs/evals.md
# runs): a one-off data home; a signed bundle verified against the committed
# signer before anything is imported; live-mode secrets into a vault keyed by
# a one-off passphrase; `codexos eval` with JUnit, Markdown and the report;
# the Markdown appended to the job summary. Exits with eval's code: 1 when a
# threshold does not hold, 2 when the eval could not run (this script's own
# refusals too), 130 when interrupted.
set -Eeuo pipefail
# Anything that fails unguarded is "could not run" (2), never a failed
# threshold (1, which only `codexos eval` says).
trap 'exit 2' ERR
markdown=${EVAL_MARKDOWN:-codexos-eval.md}
# Results of an earlier eval in this workspace must not pass for this one's,
# whatever step fails.
rm -f "$markdown" "${EVAL_JUNIT:-codexos-eval.xml}" "${EVAL_REPORT:-codexos-eval.json}"
codexos=${CODEXOS_BIN:-codexos}
out=${GITHUB_OUTPUT:-/dev/null}
summary=${GITHUB_STEP_SUMMARY:-/dev/null}
mode=${EVAL_MODE:-replay}
fail() {
  echo "::error::codexos eval: $*" >&2
  exit 2
}
[[ -n "${EVAL_FLOW:-}" ]] || fail "the flow input is required"
[[ -n "${EVAL_DATASET:-}" ]] || fail "the dataset input is required"
case "$mode" in
  replay) [[ -n "${EVAL_BASELINE:-}" ]] || fail "replay mode answers calls from a baseline: give the baseline input (or mode: live)" ;;
  live) ;;
  *) fail "mode must be replay or live, not '$mode'" ;;
esac

home=$(mktemp -d "${RUNNER_TEMP:-/tmp}/codexos-home.XXXXXX")
export CODEXOS_HOME="$home"
# A passphrase-keyed vault (CI runners have no keychain), new for each job.
CODEXOS_VAULT_PASSPHRASE=$(head -c 32 /dev/urandom | base64 | tr -d '\n')
export CODEXOS_VAULT_PASSPHRASE
if [[ -n "${EVAL_CONFIG:-}" ]]; then
  cp "$EVAL_CONFIG" "$home/config.toml" || fail "cannot read the config $EVAL_CONFIG"
fi

flow=$EVAL_FLOW
if [[ -n "${EVAL_BUNDLE:-}" ]]; then
  [[ -n "${EVAL_TRUSTED_SIGNER:-}" ]] || fail "a bundle is verified against trusted-signer: commit the signer's public identity (codexos keys show --public FILE) and name it"
  "$codexos" keys trust "$EVAL_TRUSTED_SIGNER" || fail "cannot trust the signer in $EVAL_TRUSTED_SIGNER"
  "$codexos" bundle verify "$EVAL_BUNDLE" || fail "the bundle $EVAL_BUNDLE is not signed by the trusted signer"
  "$codexos" bundle import "$EVAL_BUNDLE" || fail "cannot import the bundle $EVAL_BUNDLE"
  flow="$home/flows/$EVAL_FLOW.flow.json"
  [[ -f "$flow" ]] || fail "the bundle has no flow named '$EVAL_FLOW'"
fi

if [[ -n "${EVAL_SECRETS:-}" ]]; then
  printf '%s\n' "$CODEXOS_VAULT_PASSPHRASE" | "$codexos" vault rotate --to passphrase >/dev/null ||
    fail "cannot key the vault with a passphrase"
  while IFS= read -r line || [[ -n "$line" ]]; do
    line=${line#"${line%%[![:space:]]*}"}
    [[ -z "$line" || "$line" == \#* ]] && continue
    name=${line%%=*}
    [[ "$name" != "$line" && -n "$name" ]] || fail "a secrets line must be NAME=VALUE"
    if [[ -n "${GITHUB_ACTIONS:-}" ]]; then echo "::add-mask::${line#*=}"; fi
    printf '%s' "${line#*=}" | "$codexos" vault set "$name" >/dev/null || fail "cannot store the secret $name"
  done <<<"$EVAL_SECRETS"
fi
# No later process (a tool, an MCP server) gets the raw values.
unset EVAL_SECRETS

args=(eval "$flow" --dataset "$EVAL_DATASET" --junit "${EVAL_JUNIT:-codexos-eval.xml}"
  --markdown "${EVAL_MARKDOWN:-codexos-eval.md}" --out "${EVAL_REPORT:-codexos-eval.json}")
if [[ -n "${EVAL_BASELINE:-}" ]]; then args+=(--baseline "$EVAL_BASELINE"); fi
if [[ "$mode" == replay ]]; then args+=(--replay); fi
if [[ -n "${EVAL_REPEAT:-}" && "${EVAL_REPEAT}" != 1 ]]; then args+=(--repeat "$EVAL_REPEAT"); fi
trim() {
  local text=${1#"${1%%[![:space:]]*}"}
  printf '%s' "${text%"${text##*[![:space:]]}"}"
}
while IFS= read -r line; do
  line=$(trim "$line")
  if [[ -n "$line" ]]; then args+=(--threshold "$line"); fi
done <<<"${EVAL_THRESHOLDS:-}"
while IFS= read -r line; do
  line=$(trim "$line")
  if [[ -n "$line" ]]; then args+=(--scorer "$line"); fi
done <<<"${EVAL_SCORERS:-}"
# A replay must not reach the network: offline mode refuses every connection.
if [[ "$mode" == replay ]]; then args=(--offline "${args[@]}"); fi

status=0
"$codexos" "${args[@]}" || status=$?
if [[ -f "$markdown" ]]; then
  cat "$markdown" >>"$summary" || echo "::warning::cannot append to the job summary" >&2
fi
{
  echo "ok=$([[ $status == 0 ]] && echo true || echo false)"
  echo "junit=${EVAL_JUNIT:-codexos-eval.xml}"
  echo "markdown=$markdown"
} >>"$out"
case "$status" in
  0) ;;
  1) echo "::error::codexos eval: thresholds not met (see the summary)" >&2 ;;
  *) echo "::error::codexos eval could not run (exit $status)" >&2 ;;
esac
exit "$status"
