// Package dispatch decides where and how often a one-time code is sent to Twilio.
//
// It sits between the Caddy handler and package twilio, whose Client makes exactly
// one HTTP request per call. Dispatch owns everything around that request:
//
//   - account.go:    the Twilio accounts (main, per-country subaccounts, fallbacks)
//     and their sender numbers, validated at provisioning;
//   - region.go:     regional hostnames ({product}.{edge}.{region}.twilio.com);
//   - router.go:     which account serves a destination (longest dialing-code
//     prefix) and the fallback chain after it;
//   - sender.go:     the deterministic choice of From / MessagingServiceSid;
//   - policy.go:     which failure allows a retry, a fallback, or nothing;
//   - limiter.go:    a per-account concurrency cap with a bounded queue served
//     round-robin by caller (WithCaller) and AIMD adaptation to Twilio's 429s;
//   - breaker.go:    a per-account circuit breaker;
//   - state.go:      limiters and breakers shared across Caddy config reloads,
//     reconfigured in place;
//   - dispatcher.go: the loop that ties them together;
//   - result.go:     what one Send reports, without message text.
//
// The one rule everything else serves: a request that may have reached Twilio is
// never retried or sent down a fallback. Twilio's Messages API has no idempotency
// key, so a second attempt after an ambiguous failure could deliver a code twice.
// Only answers that prove nothing was created (429/20429, a connection that was
// never established, an authentication failure, Twilio's own 503/20503,
// configured error codes of a Twilio 4xx) let the dispatcher try again. Any
// other 5xx may have created the message: it is Final unless
// Policy.FallbackOn5xx explicitly accepts the risk of a second send.
//
// The package has no Caddy imports. Its log-safe views (Result.String,
// Result.MarshalJSON, Attempt) never contain message text, codes or credentials.
package dispatch
