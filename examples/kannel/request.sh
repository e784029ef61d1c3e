#!/usr/bin/env bash
# What a product with a Kannel preset sends with the settings in README.md:
# GET /cgi-bin/sendsms with the sendsms-user's username and password, the
# number (country code first, no "+"), the sender and the text.
#
#   examples/kannel/request.sh            # a send: 202 0: Accepted for delivery
#   examples/kannel/request.sh forged     # a wrong password: 403, nothing sent
#   examples/kannel/request.sh missing    # no to=: 400
#
# Prints the answer's body, then its HTTP status on the last line.
# ADAPTER, PASSWORD, TO and MESSAGE override the defaults.
set -euo pipefail

adapter=${ADAPTER:-http://localhost:8080}
password=${PASSWORD:-example-password}
to=${TO:-"14155552671"}
message=${MESSAGE:-"Your verification code is $(printf '%06d' $((RANDOM % 1000000)))"}
params=()

case "${1:-send}" in
send) ;;
forged) password="$password-forged" ;;
missing) to="" ;;
*)
	echo "usage: $0 [send|forged|missing]" >&2
	exit 2
	;;
esac

params+=(--data-urlencode "username=tester" --data-urlencode "password=$password")
if [[ -n $to ]]; then
	params+=(--data-urlencode "to=$to")
fi
params+=(--data-urlencode "from=12345" --data-urlencode "text=$message"
	--data-urlencode "charset=UTF-8" --data-urlencode "coding=0")
curl -sS -w '\n%{http_code}\n' -G "$adapter/cgi-bin/sendsms" "${params[@]}"
