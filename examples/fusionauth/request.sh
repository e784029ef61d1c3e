#!/usr/bin/env bash
# What FusionAuth's Generic Messenger sends with the settings in README.md: a
# JSON POST with the messenger's Basic auth username and password.
#
#   examples/fusionauth/request.sh          # type SMS: textMessage is the SMS
#   examples/fusionauth/request.sh voice    # type Voice: a call speaks message
#
# Prints the answer's body, then its HTTP status on the last line.
# ADAPTER, PASSWORD, TO and CODE override the defaults.
set -euo pipefail

adapter=${ADAPTER:-http://localhost:8080}
password=${PASSWORD:-example-password}
to=${TO:-"4155552671"} # as FusionAuth holds it: no country code
code=${CODE:-"012345"}

case "${1:-sms}" in
sms) type=SMS ;;
voice) type=Voice ;;
*)
	echo "usage: $0 [sms|voice]" >&2
	exit 2
	;;
esac

curl -sS -w '\n%{http_code}\n' -u "fusionauth:$password" "$adapter/fusionauth" \
	-H 'Content-Type: application/json' \
	--data-binary "{\"code\":\"$code\",\"phoneNumber\":\"$to\",\"message\":\"Your verification code is $code\",\"textMessage\":\"Two Factor Code: $code\",\"type\":\"$type\",\"userId\":\"00000000-0000-0000-0000-000000000042\"}"
