// Package redisstate keeps the adapter's duplicate suppression and rate
// limits in Redis, so that several instances behind a load balancer share
// them. It is the Caddy-free half: the route configuration (redis <url>,
// redis_failure local|refuse) and the in-process fallback are the caller's.
//
// # Clients
//
// Open parses a URL (see Open for the forms: redis://, rediss://, unix://,
// redis+sentinel://, redis+cluster:// and their TLS variants) without
// connecting. Acquire and Release share one Client per URL string across the
// routes of a configuration and across reloads, by reference counting. Every
// Redis call runs under its own deadline (Options.CallTimeout, default
// 150 ms, or the store's) inside the caller's context, so a slow or dead
// Redis costs a request at most that per call. After FailuresToBackOff
// consecutive failures a Client fails fast for Options.Backoff (default 1 s),
// letting one probe call through per backoff; the first success ends it, so
// recovery needs nothing from the caller. Client.Health is a snapshot for a
// gauge (healthy, last error, counters) and Client.WarnDue paces warnings.
//
// Every failed call returns an error matching ErrUnavailable (an *Error
// naming the operation and unwrapping to the cause). The caller applies its
// policy: fall back to in-process state (dedup.Cache, ratelimit.Limiter), or
// answer "unavailable" without sending.
//
// # Keys and the secret
//
// Redis never holds a destination, a text, a caller or an account in clear.
// Dedup keys are HMAC-SHA256 digests of the request's parts (Dedup.KeyOf,
// the same length-prefixed encoding as dedup.KeyOf) and limiter keys are
// HMAC-SHA256 digests of the bucket's key, each under a sub-key derived from
// one secret given in the config. That secret must be the same on every
// instance (dedup.KeyOf's per-process secret would match nothing elsewhere)
// and at least MinSecretLen bytes; 32 random bytes from an environment
// variable or a file are recommended. Keys are Prefix (default
// "twilio_sms:") followed by "d:" (dedup entries), "t:" (dedup tag index) or
// "r:" (buckets) and 64 hex digits. Times are the Redis server's clock
// (TIME inside the scripts), so the instances' clocks need not agree.
//
// # Duplicate suppression
//
// Dedup.Do has the contract of dedup.Cache.Do, across instances. A key's
// entry is one string: a claim ("P", a random token, the end of its lease)
// or an answer ("D", the claim's token, when it was stored, the Tag and the
// caller's encoded Data, never the message body). One Lua script, one round
// trip, reads the entry and either returns it or claims the key with
// SET PX, atomically:
//
//   - No entry, or an answer stored longer ago than this caller's window:
//     the caller claims the key, runs fn, and stores fn's answer over its
//     own claim (only over its own claim: a claim forgotten or expired
//     meanwhile is not recreated), kept max(window, MinKeep) from when fn
//     returned. It gets (answer, shared=false).
//   - An answer live for this caller's window (per call, as in dedup.Cache:
//     a changed window applies at once; an entry still expires with the
//     claimer's window): it gets (answer, shared=true).
//   - A claim whose lease runs: the caller polls with a jittered pause
//     (2 ms doubling to PollInterval, default 25 ms) until the answer is
//     stored, which it gets whatever its window. If its context ends first:
//     Status Pending; nothing may be sent ("try again later").
//   - A claim whose lease has ended without an answer: Status Lost. The
//     owner died, hung, or lost Redis after claiming and may have sent, so
//     the answer is "unknown", never a licence to send. The claim lasts for
//     its lease plus max(the claimer's window, MinKeep), then the key is
//     free.
//
// The lease is the claimer's remaining budget (its context's deadline) plus
// LeaseGrace (2 s), at most MaxLease (5 min; also used without a deadline).
//
// Do returns an error only when Redis failed before any claim by another
// caller was seen; fn was not run and the caller may fall back. A failure
// after that is retried until the context ends (then Pending); a failure
// storing the claimer's answer is not an error (it sent: the others answer
// Lost once its lease ends) but is counted in Health.
//
// Forget drops an answer that says nothing was sent, only the one given (a
// later send's answer for the key is kept). MarkFailed drops an answer when
// delivery is known to have failed, so the next identical request sends
// again on any instance; with a tag, only an answer with that Tag.
// MarkFailedTag does the same knowing only the Tag (the message SID), through
// an index kept as long as the answer. None of them touches a claim still in
// progress. A waiter that finds the key gone claims it and runs fn itself.
//
// # Rate limits
//
// Limiter.Allow and Limiter.Refund are ratelimit.Limiter's token buckets in
// Redis, one Lua script and one round trip per call: Allow takes a token or
// says how long until one will be, Refund gives one back (capped at the
// burst) so that only sends spend the limit. The rate and burst are passed
// per call, so a reload's new values apply at once and buckets keep their
// tokens. A bucket's key expires when it would be full again. (go-redis's
// redis_rate has no way to give a token back, hence the own script.) A
// failed call spends nothing that is known: Allow answers not-ok with the
// error and the caller falls back or refuses. Calls are never retried by the
// client unless the URL sets max_retries, so that a call that reached Redis
// but whose reply was lost is not applied twice.
//
// Concurrency caps and breakers are not here: they stay per instance.
package redisstate
