#!/usr/bin/env bash
# What ADSelfService Plus sends when SMS Settings are set as in README.md:
# POST, HTTP Parameters as plain text, and the Authorization header the
# ManageEngine KB has the admin build from base64(ACCOUNT_SID:AUTH_TOKEN).
# %mobNo% is the number as Active Directory holds it, %message% the SMS text.
#
#   examples/adselfservice/request.sh            # POST, plain-text parameters
#   examples/adselfservice/request.sh get        # GET, query string
#   examples/adselfservice/request.sh json       # POST, JSON parameters
#   examples/adselfservice/request.sh xml        # POST, XML parameters
#
# Prints the answer's body, then its HTTP status on the last line.
# ADAPTER, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TO and MESSAGE override the defaults.
set -euo pipefail

adapter=${ADAPTER:-http://localhost:8080}
sid=${TWILIO_ACCOUNT_SID:-AC00000000000000000000000000000001}
token=${TWILIO_AUTH_TOKEN:-example-token}
to=${TO:-"(415) 555-2671"}
message=${MESSAGE:-"Your ADSelfService Plus verification code is 012345. Don't share it & stay safe."}
auth="Authorization: Basic $(printf '%s:%s' "$sid" "$token" | base64 | tr -d '\n')"

# Like the product, the json and xml styles paste the macros into the template
# as they are (an "&" in XML is read as text by the adapter; a double quote in
# the message would break ADSelfService Plus's own JSON).
case "${1:-form}" in
form)
	curl -sS -w '\n%{http_code}\n' "$adapter/sms" -H "$auth" \
		--data-urlencode "To=$to" --data-urlencode "Body=$message"
	;;
get)
	curl -sS -w '\n%{http_code}\n' -G "$adapter/sms" -H "$auth" \
		--data-urlencode "mobileNumber=$to" --data-urlencode "message=$message" \
		--data-urlencode "date=$(date +%s)" --data-urlencode "SignatureNonce=$RANDOM"
	;;
json)
	curl -sS -w '\n%{http_code}\n' "$adapter/sms" -H "$auth" -H 'Content-Type: application/json' \
		--data-binary "{\"mobileNumber\":\"$to\",\"message\":\"$message\"}"
	;;
xml)
	curl -sS -w '\n%{http_code}\n' "$adapter/sms" -H "$auth" -H 'Content-Type: application/xml' \
		--data-binary "<sms><mobileNumber>$to</mobileNumber><message>$message</message></sms>"
	;;
*)
	echo "usage: $0 [form|get|json|xml]" >&2
	exit 2
	;;
esac
