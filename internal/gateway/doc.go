// Package gateway is one route's pipeline, from an inbound HTTP request to the
// answer its caller checks. It has no Caddy imports: the Caddy handler
// (package caddymodule) builds a Gateway at provisioning and calls Serve for
// every request; the `caddy twilio-sms explain` and `test` commands call the
// same Serve, with sending switched off (DryRun) or on.
//
// # The request's whole path
//
//  1. Caller: the caller is verified (Callers: a header or Basic credential
//     compared in constant time) or, without caller_auth, identified by its
//     client IP. The verified identity is what per-caller limits key on;
//     nothing the caller merely claims (a Basic user name) is.
//  2. Prepare: the body is read within the mapping's cap and the route's
//     budget; the mapping parses it, extracts and validates the fields
//     (phone numbers never guessed), chooses the Twilio API and computes its
//     parameters; route rules on parameters apply (a caller's StatusCallback,
//     a call's TimeLimit); passthrough takes the caller's Twilio credentials.
//     Any problem is bad input: an answer naming the field, nothing sent.
//  3. Guard: the destination's country (allow and deny lists; a number whose
//     country cannot be told is refused when a list is set) and number type
//     (premium rate, shared cost, UAN, personal and non-geographic numbers
//     are refused by default).
//  4. Plan: the accounts to try in order (the destination's subaccount or the
//     main account, then fallbacks; the caller's own account in passthrough).
//  5. Dedup: an identical request (same sending account, API and parameters)
//     inside the window gets the first one's answer; concurrent identical
//     requests wait for the first. At the cache's cap nothing is sent (503).
//  6. Limits: a destination and a caller token are taken; a refusal spends
//     nothing.
//  7. Send: the dispatcher tries the plan under each account's concurrency cap
//     and breaker, retrying or falling back only where nothing was created.
//  8. Classify: accepted, rejected, unknown (may have been sent: cached for
//     re-posts, never sent again), unreachable or unavailable. A send that
//     provably sent nothing gives its limit tokens back and is not cached.
//  9. Reply: the mapping renders the answer in the caller's dialect.
//
// Every step reports to an Observer (metrics) and the outcome carries what
// one log line needs; no step logs a message text, a code or a credential.
package gateway
