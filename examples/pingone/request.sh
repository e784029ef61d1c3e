#!/usr/bin/env bash
# What PingOne's custom provider sends with the settings in README.md:
# Basic authorization (user name = Account SID, password = auth token) and a
# Form body with the keys of Ping's Twilio Studio guide, or a Raw JSON body.
#
#   examples/pingone/request.sh sms      # Form: From, to, Parameter -> Messages
#   examples/pingone/request.sh studio   # Form: From, to, Parameter={"OTP":${otp}} -> Studio flow
#   examples/pingone/request.sh voice    # Form: From, To, Parameters with beforeTag/afterTag -> Calls
#   examples/pingone/request.sh json     # Raw JSON {"to","from","message"} -> Messages
#
# Prints the answer's body, then its HTTP status on the last line.
# ADAPTER, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TO and FROM override the defaults.
set -euo pipefail

adapter=${ADAPTER:-http://localhost:8080}
sid=${TWILIO_ACCOUNT_SID:-AC00000000000000000000000000000001}
token=${TWILIO_AUTH_TOKEN:-example-token}
to=${TO:-"+14155552671"}     # phoneNumberFormat FULL; NUMBER_ONLY would be 14155552671
from=${FROM:-"+15005550006"} # the sender number configured in PingOne
otp=012345

post() { curl -sS -w '\n%{http_code}\n' -u "$sid:$token" "$@"; }

case "${1:-sms}" in
sms)
	post "$adapter/pingone/sms" --data-urlencode "From=$from" --data-urlencode "to=$to" \
		--data-urlencode "Parameter=Your PingOne passcode is $otp. It expires in 5 minutes."
	;;
studio)
	# PingOne pastes ${otp} unquoted: {"OTP":012345} is not valid JSON; the adapter repairs it.
	post "$adapter/pingone/studio" --data-urlencode "From=$from" --data-urlencode "to=$to" \
		--data-urlencode "Parameter={\"OTP\":$otp}"
	;;
voice)
	# beforeTag <Say>, afterTag </Say> <Pause length="1"/>, around each digit.
	digits=""
	for ((i = 0; i < ${#otp}; i++)); do digits+="<Say>${otp:i:1}</Say> <Pause length=\"1\"/>"; done
	post "$adapter/pingone/voice" --data-urlencode "From=$from" --data-urlencode "To=$to" \
		--data-urlencode "Parameters=Your PingOne passcode is $digits"
	;;
json)
	post "$adapter/pingone/sms" -H 'Content-Type: application/json' \
		--data-binary "{\"to\":\"$to\",\"from\":\"$from\",\"message\":\"Your PingOne passcode is $otp.\"}"
	;;
*)
	echo "usage: $0 [sms|studio|voice|json]" >&2
	exit 2
	;;
esac
