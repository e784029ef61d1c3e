#!/usr/bin/env bash
# What Zitadel's HTTP SMS provider sends with the settings in README.md: a
# JSON POST with the context (the number), the translated message texts and
# the arguments, signed with ZITADEL-Signature: t=<unix>,v1=<hex HMAC-SHA256
# of "<t>.<body>"> under the provider's signing key.
#
#   examples/zitadel/request.sh             # a phone verification code
#   examples/zitadel/request.sh otp         # an OTP SMS challenge
#   examples/zitadel/request.sh unsigned    # no signature: refused, nothing sent
#
# Prints the answer's body, then its HTTP status on the last line.
# ADAPTER, KEY, TO and CODE override the defaults.
set -euo pipefail

adapter=${ADAPTER:-http://localhost:8080}
key=${KEY:-example-zitadel-signing-key}
to=${TO:-"+14155552671"}
code=${CODE:-"$(printf '%06d' $((RANDOM % 1000000)))"}
event=user.human.phone.code.added
text="Hello Ann, please verify your phone number with the code $code."
sign=true

case "${1:-phone}" in
phone) ;;
otp)
	event=user.human.otp.sms.challenged
	text="$code is your one-time password for example.zitadel.cloud. Use it within the next 5m0s."
	;;
unsigned) sign=false ;;
*)
	echo "usage: $0 [phone|otp|unsigned]" >&2
	exit 2
	;;
esac

body='{"contextInfo":{"eventType":"'"$event"'","provider":{"id":"285181292935381355","description":"Twilio adapter"},"recipientPhoneNumber":"'"$to"'"},'
body+='"templateData":{"Title":"Zitadel - Verify Phone","PreHeader":"Verify Phone","Subject":"Verify Phone","Greeting":"Hello Ann,","Text":"'"$text"'","ButtonText":"","IncludeFooter":false},'
body+='"args":{"code":"'"$code"'","displayName":"Ann Example","preferredLoginName":"ann@example.com","preferredLanguage":"en","expiry":"5m0s"}}'

headers=(-H 'Content-Type: application/json')
if $sign; then
	ts=$(date +%s)
	sig=$(printf '%s' "$ts.$body" | openssl dgst -sha256 -hmac "$key" -hex | sed 's/^.*= //')
	headers+=(-H "ZITADEL-Signature: t=$ts,v1=$sig")
fi
curl -sS -w '\n%{http_code}\n' "$adapter/zitadel" "${headers[@]}" --data-binary "$body"
