#!/usr/bin/env bash
# What a product with a Jasmin preset sends with the settings in README.md:
# /send with the Jasmin user's username and password, the number (country
# code first, no "+") and the content, as a query string (GET) or a form
# (POST).
#
#   examples/jasmin/request.sh            # GET: 200 Success "SM..."
#   examples/jasmin/request.sh post       # POST form, with a DLR request
#   examples/jasmin/request.sh forged     # a wrong password: 403, nothing sent
#
# Prints the answer's body, then its HTTP status on the last line.
# ADAPTER, PASSWORD, TO and MESSAGE override the defaults.
set -euo pipefail

adapter=${ADAPTER:-http://localhost:8080}
password=${PASSWORD:-example-password}
to=${TO:-"14155552671"}
message=${MESSAGE:-"Your verification code is $(printf '%06d' $((RANDOM % 1000000)))"}
get=true
extra=()

case "${1:-get}" in
get) ;;
post)
	get=false
	extra=(--data-urlencode "dlr=yes" --data-urlencode "dlr-url=https://app.example.com/dlr"
		--data-urlencode "dlr-level=3" --data-urlencode "validity-period=5")
	;;
forged) password="$password-forged" ;;
*)
	echo "usage: $0 [get|post|forged]" >&2
	exit 2
	;;
esac

params=(--data-urlencode "username=foo" --data-urlencode "password=$password"
	--data-urlencode "to=$to" --data-urlencode "from=Example" --data-urlencode "content=$message" "${extra[@]}")
if $get; then
	curl -sS -w '\n%{http_code}\n' -G "$adapter/send" "${params[@]}"
else
	curl -sS -w '\n%{http_code}\n' "$adapter/send" "${params[@]}"
fi
