#!/usr/bin/env bash
# What Advanced Authentication's Generic SMS sender sends with the settings in
# README.md: HTTP Basic authentication and the request body parameters
# to={phone} and text={message}, form-encoded.
#
#   examples/netiq/request.sh           # /netiq, the route's sender 91\9191919191
#   examples/netiq/request.sh copilot   # /netiq/copilot, the route's Messaging Service
#   examples/netiq/request.sh json      # the same parameters as a JSON body
#
# Prints the answer's body, then its HTTP status on the last line.
# ADAPTER, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TO override the defaults.
set -euo pipefail

adapter=${ADAPTER:-http://localhost:8080}
sid=${TWILIO_ACCOUNT_SID:-AC00000000000000000000000000000001}
token=${TWILIO_AUTH_TOKEN:-example-token}
to=${TO:-"+919876543210"}
message="User jdoe from portal login to Windows logon OTP: 012345"

case "${1:-form}" in
form)
	curl -sS -w '\n%{http_code}\n' -u "$sid:$token" "$adapter/netiq" \
		--data-urlencode "to=$to" --data-urlencode "text=$message"
	;;
copilot)
	# Another code: the same text to the same number through the same account
	# inside the dedup window would be answered as a duplicate, not sent.
	curl -sS -w '\n%{http_code}\n' -u "$sid:$token" "$adapter/netiq/copilot" \
		--data-urlencode "to=$to" --data-urlencode "text=${message%012345}654321"
	;;
json)
	curl -sS -w '\n%{http_code}\n' -u "$sid:$token" "$adapter/netiq" -H 'Content-Type: application/json' \
		--data-binary "{\"to\":\"$to\",\"text\":\"$message\"}"
	;;
*)
	echo "usage: $0 [form|copilot|json]" >&2
	exit 2
	;;
esac
