// Package phone turns the phone numbers legacy identity products send into
// E.164, the only form Twilio accepts, using libphonenumber's metadata
// (github.com/nyaruka/phonenumbers) rather than hand-written rules. It also
// masks numbers for logs and tells a number's region and calling code for
// geographic allow and deny lists. It has no Caddy imports.
//
// # What a product sends
//
// Products pass through whatever the directory holds ("(415) 555-2671",
// "+44 (0)7700 900123", "+91-98765-43210"), and transports damage it on the
// way: a form decoder turns the "+" into a space, a product forgets to decode
// "%2B", PingOne's NUMBER_ONLY format drops the "+", NetIQ Advanced
// Authentication writes "91\9876543210" (country code, backslash, national
// number). Normalizer.Normalize accepts all of these.
//
// # Cleaning
//
// Before libphonenumber sees anything:
//
//  1. Input over 64 bytes is rejected ("is too long").
//  2. Surrounding white space goes, including the space a form decoder made
//     of a "+": " 14155552671" is read like "14155552671" below.
//  3. A value with a "%" is percent-decoded once ("%2B1..." becomes "+1...");
//     a "%" left after that is rejected.
//  4. A "tel:" prefix is dropped; RFC 3966 parameters are rejected
//     (";ext=" as an extension).
//  5. "cc\national" (NetIQ, with or without "+") becomes "+cc national".
//  6. Every remaining character must be a digit (ASCII, full-width or
//     Arabic-Indic), a separator (space, "-", ".", "(", ")", "/", "[", "]",
//     "~" and their Unicode variants) or a single leading "+" (also after
//     "(": "(+44) ..."). Letters are rejected, not read as a keypad
//     ("1-800-FLOWERS") nor skipped ("call me at ..."); an extension
//     ("x123", "ext. 12") is named as such, since SMS cannot reach it.
//  7. 4 to 20 digits must remain.
//
// What is left is digits and whether a "+" was written.
//
// # Readings, in order
//
// With a "+" (or NetIQ form) there is one reading: international.
//
// Without one, these readings are tried, and the first that libphonenumber
// says is valid wins:
//
//  1. national, in DefaultRegion, if set. libphonenumber also strips the
//     region's own international prefix ("011" from US, "0011" from AU,
//     "00" from GB) and its trunk prefix ("0" in GB, "1" in US).
//  2. "00" + number as international ("0044 7700 900123" from a region whose
//     international prefix is not 00, or with no region).
//  3. the digits as international, country code first: PingOne's NUMBER_ONLY
//     ("14155552671" with DefaultRegion "GB"), or a "+" lost to a form
//     decoder. Skipped when the digits start with "0": no country code does.
//
// The national reading comes first so that a number a region's users write
// nationally is never misread as another country's ("415 555 2671" is a US
// number from the US, even though "+41 55 555 26 71" would be Swiss).
//
// Without DefaultRegion, digits that are none of the above fail with "has no
// country code and no default region is set".
//
// # Validity
//
// By default a number must be valid: right length and in a range
// libphonenumber's metadata lists as assigned. Lenient accepts numbers that
// only have a possible length when no reading is valid (a valid reading still
// wins), and only if the result reads back as itself. Twilio's test-credential
// numbers +1 500 555 000X are valid as they are (500 is a NANP personal
// communications area code), so they need no special case. Ofcom's drama
// range (+44 7700 900xxx) is not valid, on purpose; it passes only a lenient
// Normalizer.
//
// # Errors
//
// Failures are *Error values whose Reason is one of a few fixed phrases
// ("is too long", "has letters in it", ...). They never contain the input,
// so they can be logged and returned to the caller as they are.
//
// # Cost
//
// libphonenumber spends about 14 µs and 78 allocations on even an E.164
// input. Valid results are memoized in a bounded, concurrency-safe cache
// keyed by the cleaned input (see cache.go); a repeated number costs about
// 0.1 µs and no allocation. Mask, CallingCode and NormalizeSender's short
// codes and alphanumeric IDs never call libphonenumber.
package phone
