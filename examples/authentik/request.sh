#!/usr/bin/env bash
# What authentik's SMS authenticator stage sends with the Generic provider
# and the settings in README.md: a JSON POST with From, To, Body (the token)
# and Message (the text), authenticated as the stage's Authentication Type says.
#
#   examples/authentik/request.sh            # Bearer Token
#   examples/authentik/request.sh basic      # Basic Auth
#   examples/authentik/request.sh invalid    # a number that is none: the text the user sees
#
# Prints the answer's body, then its HTTP status on the last line.
# ADAPTER, TOKEN, PASSWORD, FROM, TO and CODE override the defaults.
set -euo pipefail

adapter=${ADAPTER:-http://localhost:8080}
token=${TOKEN:-example-bearer-token}
password=${PASSWORD:-example-password}
from=${FROM:-"+15005550006"}
to=${TO:-"+14155552671"}
code=${CODE:-"012345"}

case "${1:-bearer}" in
bearer) auth=(-H "Authorization: Bearer $token") ;;
basic) auth=(-u "authentik:$password") ;;
invalid)
	auth=(-H "Authorization: Bearer $token")
	to="555-CALL-ME"
	;;
*)
	echo "usage: $0 [bearer|basic|invalid]" >&2
	exit 2
	;;
esac

curl -sS -w '\n%{http_code}\n' "${auth[@]}" "$adapter/authentik" -H 'Content-Type: application/json' \
	--data-binary "{\"From\":\"$from\",\"To\":\"$to\",\"Body\":\"$code\",\"Message\":\"Use this code to authenticate in authentik: $code\"}"
