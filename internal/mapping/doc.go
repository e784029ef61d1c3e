// Package mapping turns a declarative mapping file into a compiled program that
// reads a legacy product's SMS request, computes the Twilio parameters and writes
// the answer the product checks.
//
// A mapping file is JSON with comments (// and /* */) and trailing commas
// allowed. Its shape is described once, by mappings/schema.json: Load and
// Parse turn comments into spaces (every other byte keeps its offset) and
// check the file against the schema, whose titles and descriptions are also
// the reference (mappings/REFERENCE.md, generated). It has these parts:
//
//   - request: which methods and body format to accept and the body size cap;
//   - options and templates: named settings with defaults that the Caddyfile may
//     override (markers, message templates); required_options, options
//     without a default that every route must set (Compile fails naming the
//     first one a route leaves unset, except with Config.WithoutRoute, as
//     `check <file>` compiles); and checks: rules over the effective options
//     that make a route fail to provision when broken;
//   - route_defaults: the route settings the product needs (timeout, dedup,
//     default_region, assume_numbers), which a route that sets its own
//     overrides: Spec.Defaults and Mapping.Defaults give them typed to the
//     glue, which applies them; Compile applies assume_numbers itself;
//   - tables: lookup tables, read as tables.<name>[key] (nil when absent);
//   - let: named expressions in the order written, each usable by name in
//     every expression below it, where it means its expression written in
//     its place and is evaluated there (letPatcher); an expression may use
//     a let only if it sees all the let reads (result only in replies, a
//     field only after it is read, only options and tables in checks);
//   - fields: ordered named values read from the request by sources (of the
//     kinds SourceKinds lists) or computed by expr-lang expressions, each
//     validated (required, phone,
//     sender, digits, max_length, pattern); a phone field may say how the
//     product writes numbers without "+" (assume: international or national,
//     read through Config.PhoneFor; a route's Config.Assume wins);
//   - twilio: the form parameters of each Twilio API (messages, calls, studio) as
//     expressions over the fields;
//   - reply: the status, headers and body for success, failure and invalid input,
//     built by real JSON, XML or text encoders from expressions; each reply
//     one case, a list, or a group with defaults, under the reply's own
//     defaults (a case's key wins, headers merge by name).
//
// Messages for products that send only the code come from templates:
// render(key) fills the template's {{name}} placeholders from every field
// read before it.
//
// Replies classify a failure without reading its English: result.problem
// (the Problem* constants: missing, invalid, too_long, no_sender, auth,
// blocked, rate_limited, unavailable, unreachable, unknown, rejected) and
// result.twilio_code, the Twilio error code of the same failure, are
// computed by Classify from the Result (Outcome, Field, the InputError's
// Problem through Result.Invalid, ErrorCode) and from the Twilio parameter
// the field feeds.
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
// Compile checks what the schema cannot (expressions against the names they
// can see, regular expressions, references between parts, the checks, the
// route's own settings) and compiles everything once; nothing is compiled per
// request. Provisioning a route (Load then Compile, or LoadAndCompile) and
// `caddy twilio-sms check` (Check) go through the same functions, so they
// report the same problems in the same words: each a *ConfigError carrying
// the file, the structured path of the part at fault and its line and column
// in the file as written, rendered "file:line:col: path: message". One
// function (locate) turns a path into a position. The package has no Caddy
// imports so it can be tested and fuzzed alone.
package mapping
