#!/usr/bin/env bash
# What privacyIDEA's HttpSMSProvider sends with the SMS gateway settings in
# README.md: the options To={phone} and Body={otp} (and From), with USERNAME
# and PASSWORD as Basic auth.
#
#   examples/privacyidea/request.sh          # HTTP_METHOD POST: a form
#   examples/privacyidea/request.sh get      # HTTP_METHOD GET: a query string
#   examples/privacyidea/request.sh json     # POST with SEND_DATA_AS_JSON yes
#
# Prints the answer's body, then its HTTP status on the last line.
# ADAPTER, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TO and MESSAGE override the defaults.
set -euo pipefail

adapter=${ADAPTER:-http://localhost:8080}
sid=${TWILIO_ACCOUNT_SID:-AC00000000000000000000000000000001}
token=${TWILIO_AUTH_TOKEN:-example-token}
to=${TO:-"+14155552671"}
message=${MESSAGE:-"Your privacyIDEA OTP is 012345"} # {otp}: the smstext policy's text

case "${1:-post}" in
post)
	curl -sS -w '\n%{http_code}\n' -u "$sid:$token" "$adapter/privacyidea" \
		--data-urlencode "From=+15005550006" --data-urlencode "Body=$message" --data-urlencode "To=$to"
	;;
get)
	curl -sS -w '\n%{http_code}\n' -u "$sid:$token" -G "$adapter/privacyidea" \
		--data-urlencode "From=+15005550006" --data-urlencode "Body=$message" --data-urlencode "To=$to"
	;;
json)
	curl -sS -w '\n%{http_code}\n' -u "$sid:$token" "$adapter/privacyidea" -H 'Content-Type: application/json' \
		--data-binary "{\"From\":\"+15005550006\",\"Body\":\"$message\",\"To\":\"$to\"}"
	;;
*)
	echo "usage: $0 [post|get|json]" >&2
	exit 2
	;;
esac
