// Package delivery learns what became of the messages the adapter sent, and
// acts on it. It has no Caddy imports: the gateway sets a StatusCallback on
// every create (or hands the message to a Poller), and the Caddy glue serves
// the callback path, builds the pieces at provisioning and stops them at
// cleanup.
//
// # Status callbacks (status_callback <public base URL>)
//
// Every create carries StatusCallback = CallbackURL(base, token), the token
// (Keyring.Encode) holding what the callback needs: the route, the account
// SID, the caller's receipt target and dialect, the send time, a dedup tag
// and, for a passthrough caller, its own auth token sealed (AES-GCM). The
// token is compact base64url, signed with HMAC-SHA256 under a key every
// instance derives alike (DeriveKey), and expires; so no store is needed and
// any instance can take the callback. CallbackHandler serves the path:
// ParseCallback checks the token, then X-Twilio-Signature exactly as Twilio
// computes it (HMAC-SHA1 under the account's auth token over the public URL
// and the sorted POST parameters, with and without the port, constant time,
// whatever parameters Twilio adds), then the expiry, and a forged, altered
// or expired callback gets 403 with nothing recorded (Reason labels them).
//
// # Polling (status_poll <after>)
//
// Where Twilio cannot reach the adapter, a Poller fetches each message
// After its create and again with a doubling wait until its status is
// final or the attempts run out; a last "sent" then counts as final (sent,
// no receipt). It keeps only the bounded set of messages in flight.
//
// # What a status is used for
//
// A Tracker takes every status, from either source, drops repeats, and:
//
//   - sends the caller's receipt, if the caller asked for one, through a
//     Forwarder (bounded queue, workers, attempts and time, only to hosts in
//     receipt_hosts; Enqueue never blocks): Kannel's dlr-url with its escape
//     codes for the dlr-mask bits (KannelURL), Jasmin's dlr-url form for its
//     dlr-level, retried until answered "ACK/Jasmin" (JasminReceipt), or a
//     Twilio caller's own StatusCallback with Twilio's parameters re-signed
//     with the caller's token (TwilioReceipt);
//   - on a final status (delivered, undelivered, failed, or sent without a
//     receipt): one Delivery to the Observer (status, error code, country,
//     sender kind, send-to-final latency), one Event for the log with the
//     number masked, and for undelivered and failed the Invalidate hook, so
//     that the dedup entry of the first send is dropped and the caller's
//     next identical request is sent again: a resend after a failed
//     delivery is not a retry of a send in doubt.
//
// No number is ever a metric label, and no message text is ever kept:
// receipts that have a text field send it empty.
//
// Delivery-aware failover (resending an undelivered message through another
// account by itself) is not here: it needs the message, which is never
// kept, and the caller's own resend does it once the dedup entry is gone.
//
// DashboardMetrics reads examples/grafana/dashboard.json's PromQL, so that a
// test can hold the dashboard to the metrics the module registers.
package delivery
