#!/usr/bin/env bash
# What Okta's telephony inline hook sends with the settings in README.md: a
# JSON POST with the message profile (the number, the code, the text in the
# user's language, the channel) and the hook's Authentication field and
# secret as a header.
#
#   examples/okta/request.sh           # an SMS
#   examples/okta/request.sh voice     # a voice call
#   examples/okta/request.sh forged    # a wrong secret: refused, nothing sent
#
# Prints the answer's body, then its HTTP status on the last line (always
# 200: Okta reads the body).
# ADAPTER, SECRET, TO and CODE override the defaults.
set -euo pipefail

adapter=${ADAPTER:-http://localhost:8080}
secret=${SECRET:-example-okta-secret}
to=${TO:-"+14155552671"}
code=${CODE:-"482915"}
channel=SMS
template="Your Example verification code is $code"
locale=en-US

case "${1:-sms}" in
sms) ;;
voice)
	channel=Voice
	template="Ihr Bestätigungscode lautet $code."
	locale=de-DE
	;;
forged) secret="$secret-forged" ;;
*)
	echo "usage: $0 [sms|voice|forged]" >&2
	exit 2
	;;
esac

curl -sS -w '\n%{http_code}\n' "$adapter/okta" \
	-H "Authorization: $secret" -H 'Content-Type: application/json' \
	--data-binary @- <<JSON
{"eventId":"uS5871kJThSsU8qlA1LTcg","eventTime":"2026-12-01T15:04:05.000Z","eventType":"com.okta.telephony.provider","eventTypeVersion":"1.0","contentType":"application/json","cloudEventVersion":"0.1","source":"https://example.okta.com/api/v1/inlineHooks/cbl2ad6phv9fsPLcF0g7","requestType":"com.okta.user.telephony.mfa-verification","data":{"context":{"request":{"id":"reqRgSk8IBBRhuo0YdlEDTmUw","method":"POST","url":{"value":"/idp/idx/challenge/send"},"ipAddress":"203.0.113.7"}},"userProfile":{"firstName":"Ann","lastName":"Example","login":"ann@example.com","userId":"00uyxxSknGtK8022w0g3"},"messageProfile":{"msgTemplate":"$template","phoneNumber":"$to","otpExpires":"2026-12-01T15:09:05.000Z","deliveryChannel":"$channel","otpCode":"$code","locale":"$locale"}}}
JSON
