// Package ratelimit holds token buckets per key, for abuse control on the
// login path: per destination number (SMS pumping, OWASP API4:2023 scenario #1)
// and per calling product or client.
//
// Only sends spend the limit: Allow takes a token before a send, and Refund
// gives it back when the send proved that nothing was sent. Update changes the
// rate and burst of a live Limiter, so that a config reload keeps every
// bucket's state.
//
// Keys are stored as given: callers hash anything sensitive (a phone number)
// before passing it, for example with dedup.KeyOf.
//
// Limits are per Caddy instance, not cluster-wide: the buckets live in this
// process's memory, so N instances behind a load balancer allow up to N times
// the configured rate. Memory is bounded by a maximum number of keys. The
// package has no Caddy imports.
package ratelimit
