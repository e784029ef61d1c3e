// Package twilio is the adapter's outbound side: it builds one Twilio REST request
// (Messages, Calls or Studio Executions), sends it without ever replaying it, and
// reads Twilio's JSON or XML reply into an Outcome.
//
// The package knows nothing about Caddy, mappings or dialects. Retries, fallbacks,
// concurrency caps and breakers live in package dispatch, which decides from
// SendError.MayHaveReached whether another attempt could send a code twice.
package twilio
