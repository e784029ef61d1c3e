// Package mapping turns a declarative mapping file into a compiled program that
// reads a legacy product's SMS request, computes the Twilio parameters and writes
// the answer the product checks.
//
// A mapping file is JSON (schema: mappings/schema.json). It has five parts:
//
//   - request: which methods and body format to accept and the body size cap;
//   - options and templates: named settings with defaults that the Caddyfile may
//     override (markers, message templates), and checks: rules over the
//     effective options that make a route fail to provision when broken;
//   - fields: ordered named values read from the request (form, query, JSON via
//     gjson paths, XML, headers, path segments, Basic credentials, the raw body)
//     or computed by expr-lang expressions, each validated (required, phone,
//     sender, digits, max_length, pattern); a phone field may say how the
//     product writes numbers without "+" (assume: international or national,
//     read through Config.PhoneFor; a route's Config.Assume wins);
//   - twilio: the form parameters of each Twilio API (messages, calls, studio) as
//     expressions over the fields;
//   - reply: the status, headers and body for success, failure and invalid input,
//     built by real JSON, XML or text encoders from expressions.
//
// Voice messages become TwiML through twiml(): only Say (with SSML) and Pause
// survive, and a message that would hold a call open (MaxPauseSeconds,
// MaxTotalPauseSeconds, MaxSayLoop, MaxSayRepetitions, MaxSpokenChars) is
// refused as invalid input naming its field, never shortened.
//
// Inbound bodies are read leniently where products are known to be sloppy: a
// raw line break inside a JSON string and a bare "&" in XML text are repaired
// before parsing (products that paste macros into templates unescaped), never
// anything that changes the meaning of a valid body.
//
// Everything is compiled once by Compile: an unknown field, option, function or a
// type error fails there with the file, the field and the position. Nothing is
// compiled per request. The package has no Caddy imports so it can be tested and
// fuzzed alone.
package mapping
