#!/usr/bin/env bash
# What a product configured for Twilio itself sends (HelloID's Custom provider
# with URL https://api.twilio.com/2010-04-01/Accounts/<sid>/Messages.json,
# "Use Basic Authentication" and the parameters From, Body, To), with only the
# host changed to the adapter's.
#
#   examples/twilio/request.sh          # Messages.json, JSON answer
#   examples/twilio/request.sh xml      # Messages (no extension), XML answer
#   examples/twilio/request.sh call     # Calls.json with Twiml
#
# Prints the answer's body, then its HTTP status on the last line.
# ADAPTER, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TO and FROM override the defaults.
set -euo pipefail

adapter=${ADAPTER:-http://localhost:8080}
sid=${TWILIO_ACCOUNT_SID:-AC00000000000000000000000000000001}
token=${TWILIO_AUTH_TOKEN:-example-token}
to=${TO:-"+14155552671"}
from=${FROM:-"+15005550006"}
base="$adapter/2010-04-01/Accounts/$sid"

case "${1:-json}" in
json)
	curl -sS -w '\n%{http_code}\n' -u "$sid:$token" "$base/Messages.json" \
		--data-urlencode "To=$to" --data-urlencode "From=$from" \
		--data-urlencode "Body=Your HelloID verification code is 012345 & it expires soon."
	;;
xml)
	curl -sS -w '\n%{http_code}\n' -u "$sid:$token" "$base/Messages" \
		--data-urlencode "To=$to" --data-urlencode "From=$from" \
		--data-urlencode "Body=Your verification code is 012345."
	;;
call)
	curl -sS -w '\n%{http_code}\n' -u "$sid:$token" "$base/Calls.json" \
		--data-urlencode "To=$to" --data-urlencode "From=$from" \
		--data-urlencode 'Twiml=<Response><Say>Your code is 0 1 2 3 4 5</Say><Pause length="1"/><Say>0 1 2 3 4 5</Say></Response>'
	;;
*)
	echo "usage: $0 [json|xml|call]" >&2
	exit 2
	;;
esac
