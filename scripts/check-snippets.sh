#!/usr/bin/env bash
# Checks the configuration snippets of the documentation with the built caddy:
# every ```caddyfile and ```json block of README.md and examples/*/README.md
# that is a whole config, a twilio_sms handler or a mapping file is adapted and
# provisioned (`caddy validate`), or checked (`caddy twilio-sms check`).
#
#   scripts/check-snippets.sh [caddy binary [doc.md...]]
#
# The binary defaults to $CADDY_BIN, else ./caddy; the documents to README.md
# and examples/*/README.md.
#
# Which blocks are checked, and how:
#
#   caddyfile, starting with `{` (global options) or a site address
#       a whole config: `caddy validate --adapter caddyfile` as it is.
#   caddyfile, starting with `twilio_sms` or `route`
#       a handler or route: put in a site (`:8080 { … }`, admin off) and
#       validated. A snippet that names no credentials (no credentials,
#       account_sid, auth_token or api_key line) shows only the lines it is
#       about; it is checked with `credentials passthrough` added to each
#       twilio_sms block.
#   caddyfile with a <placeholder> (a lowercase word in angle brackets, as in
#       `twilio_sms [<mapping>] {`): a syntax synopsis; skipped.
#   caddyfile starting with anything else (a few lines of a block): skipped.
#   json with "handler": "twilio_sms": put in apps.http.servers and validated.
#   json with "apps": a whole config, validated as it is.
#   json with "fields" and "twilio": a mapping file: `caddy twilio-sms check`.
#   other json (a request body, a Twilio answer): skipped.
#
# A line `<!-- snippet: skip -->` right before a block's opening fence skips it
# (say why in the same comment).
#
# Values the documentation elides are filled in: a Twilio SID written as its
# prefix and an ellipsis (AC…, MG…, FW…, SK…) becomes that prefix and 32 hex
# digits, and every {env.NAME} a snippet uses is set: names ending in SID to an
# AC… SID (MG… when the name says MESSAGING or SERVICE, FW… for FLOW), others
# to a placeholder secret. Any other ellipsis stays and is reported if caddy
# refuses it.
#
# Prints one line per block (ok, FAIL with caddy's error, skip with the reason)
# and exits 1 when any block fails.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
caddy=${1:-${CADDY_BIN:-$root/caddy}}
caddy=$(realpath "$caddy")
shift || true
docs=("$@")
[[ -x "$caddy" ]] || { echo "check-snippets: $caddy is not an executable (build it with ./xcaddy.sh)"; exit 2; }
cd "$root"
((${#docs[@]})) || docs=(README.md examples/*/README.md)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-snippets.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# Extract the blocks: $tmp/N.lang, and $tmp/N.where = "file:line lang skip?".
n=0
for doc in "${docs[@]}"; do
  [[ -f "$doc" ]] || continue
  awk -v doc="$doc" -v dir="$tmp" -v start="$n" '
    BEGIN { n = start; in_block = 0; skip = 0 }
    in_block && /^```[[:space:]]*$/ { in_block = 0; close(file); next }
    in_block { print > file; next }
    /^```(caddyfile|json)[[:space:]]*$/ {
      lang = substr($0, 4); sub(/[[:space:]]+$/, "", lang)
      n++; file = dir "/" n "." lang; in_block = 1
      printf "" > file
      printf "%s:%d %s %s\n", doc, NR, lang, (skip ? "marked" : "") > (dir "/" n ".where")
      close(dir "/" n ".where")
      skip = 0; next
    }
    /^<!--[[:space:]]*snippet:[[:space:]]*skip/ { skip = 1; next }
    /^[[:space:]]*$/ { next }
    { skip = 0 }
    END { print n > (dir "/count") }
  ' "$doc"
  n=$(cat "$tmp/count")
done

# fill replaces elided SIDs (AC… and the like) with whole ones.
fill() {
  sed -E 's/(^|[^A-Za-z0-9])(AC|MG|FW|SK|PN)…/\1\200000000000000000000000000000001/g' "$1"
}

# snippet_env prints NAME=value for every {env.NAME} in a file.
snippet_env() {
  grep -oE '\{env\.[A-Za-z_][A-Za-z0-9_]*' "$1" | sed 's/^{env\.//' | sort -u | while read -r name; do
    case "$name" in
      *FLOW*SID) echo "$name=FW00000000000000000000000000000001" ;;
      *MESSAGING*SID | *SERVICE*SID) echo "$name=MG00000000000000000000000000000001" ;;
      *SID) echo "$name=AC00000000000000000000000000000001" ;;
      *) echo "$name=snippet-check-value" ;;
    esac
  done
}

# run runs caddy with the snippet's environment and records the outcome.
failed=0 checked=0 skipped=0
report() { # status where what [detail]
  case "$1" in
    ok) checked=$((checked + 1)); printf 'ok    %s  %s\n' "$2" "$3" ;;
    skip) skipped=$((skipped + 1)); printf 'skip  %s  %s\n' "$2" "$3" ;;
    FAIL) failed=$((failed + 1)); checked=$((checked + 1)); printf 'FAIL  %s  %s\n' "$2" "$3"; sed 's/^/        /' "$4" ;;
  esac
}
run_caddy() { # file where what args...
  local file=$1 where=$2 what=$3; shift 3
  local -a env
  mapfile -t env < <(snippet_env "$file")
  if (cd "$tmp" && env "${env[@]}" HOME="$tmp/home" XDG_DATA_HOME="$tmp/home" XDG_CONFIG_HOME="$tmp/home" "$caddy" "$@") >"$tmp/out" 2>&1; then
    report ok "$where" "$what"
  else
    # Caddy logs JSON lines: keep the errors' messages and every other line.
    while IFS= read -r line; do
      case "$line" in
        '{"level":"error"'* | '{"level":"fatal"'*) sed -E 's/.*"msg":"(([^"\\]|\\.)*)".*/\1/; s/\\"/"/g' <<<"$line" ;;
        '{"level":'*) ;;
        *) printf '%s\n' "$line" ;;
      esac
    done <"$tmp/out" >"$tmp/why"
    [[ -s "$tmp/why" ]] || tail -n 20 "$tmp/out" >"$tmp/why"
    report FAIL "$where" "$what" "$tmp/why"
  fi
}

for ((i = 1; i <= n; i++)); do
  read -r where lang marked <"$tmp/$i.where"
  src="$tmp/$i.$lang"
  if [[ "$marked" == marked ]]; then report skip "$where" "$lang: marked <!-- snippet: skip -->"; continue; fi
  first=$(grep -vE '^[[:space:]]*(#|$)' "$src" | head -n 1 | sed -E 's/^[[:space:]]+//')
  case "$lang" in
  caddyfile)
    if grep -vE '^[[:space:]]*#' "$src" | grep -qE '(^|[[:space:][])<[a-z][a-z0-9 _./|…-]*>'; then
      report skip "$where" "caddyfile: a syntax synopsis (<placeholders>)"; continue
    fi
    out="$tmp/$i.Caddyfile"
    case "$first" in
    twilio_sms* | route*)
      if grep -qE '^[[:space:]]*(credentials|account_sid|auth_token|api_key)[[:space:]]' "$src"; then
        what="caddyfile handler: caddy validate"
        body=$(fill "$src")
      else
        what="caddyfile handler (credentials passthrough added): caddy validate"
        body=$(fill "$src" | sed -E 's/^([[:space:]]*)(twilio_sms([[:space:]][^{]*)?\{)[[:space:]]*$/\1\2\n\1\tcredentials passthrough/')
      fi
      printf '{\n\tadmin off\n\tauto_https off\n}\n\n:8080 {\n%s\n}\n' "$(sed 's/^/\t/' <<<"$body")" >"$out"
      ;;
    \{* | *\{)
      what="caddyfile config: caddy validate"
      fill "$src" >"$out"
      ;;
    *)
      report skip "$where" "caddyfile: lines of a block (starts with '${first%% *}'), not a config or handler"; continue ;;
    esac
    run_caddy "$out" "$where" "$what" validate --config "$out" --adapter caddyfile
    ;;
  json)
    out="$tmp/$i.check.json"
    if grep -qE '"handler"[[:space:]]*:[[:space:]]*"twilio_sms"' "$src" && ! grep -qE '"apps"[[:space:]]*:' "$src"; then
      { printf '{"admin": {"disabled": true}, "apps": {"http": {"servers": {"snippet": {"listen": ["127.0.0.1:8080"], "routes": [{"handle": [\n'
        fill "$src"
        printf ']}]}}}}}\n'; } >"$out"
      run_caddy "$out" "$where" "json handler: caddy validate" validate --config "$out"
    elif grep -qE '"apps"[[:space:]]*:' "$src"; then
      fill "$src" >"$out"
      run_caddy "$out" "$where" "json config: caddy validate" validate --config "$out"
    elif grep -qE '"fields"[[:space:]]*:' "$src" && grep -qE '"twilio"[[:space:]]*:' "$src"; then
      fill "$src" >"$out"
      run_caddy "$out" "$where" "mapping: caddy twilio-sms check" twilio-sms check "$out"
    else
      report skip "$where" "json: not a config, handler or mapping (a request or an answer)"
    fi
    ;;
  esac
done

echo "$checked checked, $failed failed, $skipped skipped"
[[ $failed == 0 ]]
