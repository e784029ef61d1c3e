#!/usr/bin/env bash
# What Authentication Manager's SMS HTTP plug-in sends with the settings in
# README.md: the Parameters string
#   user=$cfg.user&password=$cfg.password&to=$msg.address&text=$msg.message
# as a query string (GET) or a form (POST), the number with its country code
# and no "+".
#
#   examples/rsa_am/request.sh           # HTTP Method GET
#   examples/rsa_am/request.sh post      # HTTP Method POST
#   examples/rsa_am/request.sh forged    # a wrong Account Password: refused, nothing sent
#
# Prints the answer's body, then its HTTP status on the last line.
# ADAPTER, PASSWORD, TO and MESSAGE override the defaults.
set -euo pipefail

adapter=${ADAPTER:-http://localhost:8080}
password=${PASSWORD:-example-password}
to=${TO:-"14155552671"}
message=${MESSAGE:-"Your tokencode is: 12345678"}
get=true

case "${1:-get}" in
get) ;;
post) get=false ;;
forged) password="$password-forged" ;;
*)
	echo "usage: $0 [get|post|forged]" >&2
	exit 2
	;;
esac

params=(--data-urlencode "user=rsa-am" --data-urlencode "password=$password"
	--data-urlencode "to=$to" --data-urlencode "text=$message")
if $get; then
	curl -sS -w '\n%{http_code}\n' -G "$adapter/rsa" "${params[@]}"
else
	curl -sS -w '\n%{http_code}\n' "$adapter/rsa" "${params[@]}"
fi
