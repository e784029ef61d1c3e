// Package dedup suppresses duplicate sends: a legacy product that timed out and
// posts the same destination and text again, within a short window, gets the
// first answer again instead of causing a second SMS or call.
//
// Keys are HMAC-SHA256 digests under a secret drawn at process start (KeyOf),
// so destinations and one-time codes are never kept in clear, and keys built
// from different fields cannot collide. The Cache coalesces concurrent calls
// with the same key (only the first runs) and remembers each answer for the
// caller's window. Its memory is bounded by a maximum number of keys, and it
// never forgets an answer early to stay within it: a full cache refuses new
// keys (ErrFull) so that the caller answers "try again later" instead of
// sending without protection.
//
// One Cache serves every route of a process and outlives config reloads:
// windows are given per call, and routes Register theirs so that answers are
// kept as long as the largest one needs.
//
// The cache is per process: behind a load balancer, a duplicate that reaches
// another Caddy instance is not suppressed. The package has no Caddy imports.
package dedup
