// Package phone turns the phone numbers legacy identity products send into
// E.164, the only form Twilio accepts, using libphonenumber's metadata
// (github.com/nyaruka/phonenumbers) rather than hand-written rules. It also
// masks numbers for logs, and tells a number's region, calling code and
// type for geographic allow and deny lists and toll-fraud guards. It has no
// Caddy imports.
//
// The rule above all others: a number is never guessed into another valid
// number. When what was sent can be read as two different numbers, it is
// refused, and the error says so; a login code sent to a stranger is worse
// than one not sent.
//
// # What a product sends
//
// Products pass through whatever the directory holds ("(415) 555-2671",
// "+44 (0)7700 900123", "+91-98765-43210", "415-555-2671 x2"), and transports
// damage it on the way: a form decoder turns the "+" into a space, a product
// forgets to decode "%2B", PingOne's NUMBER_ONLY format drops the "+", NetIQ
// Advanced Authentication writes "91\9876543210" (country code, backslash,
// national number). Normalizer.Normalize accepts all of these.
//
// # Cleaning
//
// Before libphonenumber sees anything:
//
//  1. Input over 64 bytes is rejected ("is too long").
//  2. A value with a "%" is percent-decoded once ("%2B1..." becomes "+1...");
//     a "%" left after that is rejected.
//  3. White space before the first digit is the "+" a form decoder turned
//     into a space: " 4792345678", "( 44) 7400 123456", "tel: 1415...",
//     "%20..." are international, exactly as if they had a "+". Then
//     surrounding white space goes.
//  4. A "tel:" prefix is dropped.
//  5. An extension at the end is dropped, since SMS cannot reach it: ";ext="
//     (also in a tel: URI), "#", or "x", "ext", "extn", "extension" in any
//     case, optionally followed by "." or ":", then 1 to 10 digits ("x2",
//     "ext. 2", ";ext=2", "#2"). A marker word must not follow a letter
//     ("fax 2" keeps its letters). Any other ";" (RFC 3966 parameters such
//     as ";phone-context=") is rejected.
//  6. "cc\national" (NetIQ, with or without "+") becomes "+cc national".
//  7. Every remaining character must be a digit (ASCII, full-width or
//     Arabic-Indic), a separator (space, "-", ".", "(", ")", "/", "[", "]",
//     "~" and their Unicode variants) or a single leading "+" (also after
//     "(": "(+44) ..."). Letters are rejected, not read as a keypad
//     ("1-800-FLOWERS") nor skipped ("call me at ...").
//  8. 4 to 20 digits must remain.
//  9. When only digits and white space follow the last "/" or "~"
//     ("415-555-2671 / 2", but also "0171/1234567", as Germans write
//     numbers), those digits may be an extension: see below.
//
// What is left is digits, whether the number is international, and where a
// possible "/" extension starts.
//
// # Readings
//
// An international number (a "+", a decoded plus, NetIQ's form) has one
// reading: international, whatever Normalizer.Assume says.
//
// Digits without one have up to three, chosen by Normalizer.Assume:
//
//   - national, in DefaultRegion (not with AssumeInternational; needs
//     DefaultRegion). libphonenumber also strips the region's own
//     international prefix ("011" from US, "0011" from AU, "00" from GB) and
//     its trunk prefix ("0" in GB, "1" in US).
//   - "00" + number as international, when a non-zero digit follows the
//     "00" (not with AssumeNational).
//   - the digits as international, country code first: PingOne's
//     NUMBER_ONLY ("14155552671" with DefaultRegion "GB"). Not when the
//     digits start with "0": no country code does (not with
//     AssumeNational).
//
// Every reading is computed, none is preferred. When the valid readings give
// one E.164 number, that is the result; when they give two different ones,
// the input is refused as ambiguous ("could be read as more than one number:
// say whether the product sends international or national numbers"). With a
// DefaultRegion and Assume "" this refuses ordinary national numbers that
// are also another country's number written country code first: from the US,
// "(201) 555-0123" is +1 201 555 0123 and +20 1555 0123 (Egypt); from China,
// "131 2345 6789" is a mobile and +1 312 345 6789. Set Assume to say which
// the product sends.
//
// When the last "/" or "~" is followed only by digits, both the digits
// before it (the extension dropped) and all the digits (the "/" a separator)
// are read this way. If only one of them has a valid reading, it is the
// result: "0171/1234567" from DE is +49 171 1234567, "+1 415 555 2671 / 2" is
// +1 415 555 2671. If both do, with different numbers, the input is refused
// ("could be read as more than one number: the digits after "/" or "~" may
// be an extension or part of the number; ..."): "415-555-2671 / 2" from the
// US is +1 415 555 2671 with an extension, or +41 55 552 67 12 in
// Switzerland. With AssumeNational the second is not a reading, and the
// first is the result.
//
// Without DefaultRegion and with Assume "", digits with neither "00" nor a
// valid international reading fail with "has no country code and no default
// region is set", as they do with AssumeNational.
//
// # Validity
//
// By default a number must be valid: right length and in a range
// libphonenumber's metadata lists as assigned. Lenient also accepts numbers
// that only have a possible length, only if no reading is valid (a valid
// reading always wins over a merely possible one; two different possible
// readings are refused like two valid ones), and only if the result reads
// back as itself. Twilio's test-credential numbers +1 500 555 000X are valid
// as they are (500 is a NANP personal communications area code), so they
// need no special case. Ofcom's drama range (+44 7700 900xxx) is not valid,
// on purpose; it passes only a lenient Normalizer.
//
// # Region, calling code and kind
//
// Region gives a number's ISO region, from its calling code and, for calling
// codes several regions share (+1, +7, +44, ...), from libphonenumber's
// answer for a valid number or else the region whose leading digits or
// number patterns match its area code, so that a merely possible number a
// lenient Normalizer let through still has a region; "" when no single
// region matches and for non-geographic numbers (+800, +882, ...).
//
// Kind gives the classes a toll-fraud guard refuses (RiskyKinds: premium
// rate, shared cost, UAN, personal number, non-geographic), from
// libphonenumber's number type for a valid number and from the type patterns
// of every region of the calling code for a merely possible one; TypeOf gives
// libphonenumber's type as a word for logs and metrics.
//
// # Errors
//
// Failures are *Error values whose Reason is one of a few fixed phrases
// ("is too long", "has letters in it", "could be read as more than one
// number: ...", ...). They never contain the input, so they can be logged
// and returned to the caller as they are.
//
// # Cost
//
// libphonenumber spends about 14 µs and 78 allocations on reading even an
// E.164 input, and digits without a "+" take two or three readings (twice
// that with a "/" extension). Valid results are memoized in a bounded,
// concurrency-safe cache keyed by the cleaned input and the reading mode
// (see cache.go); a repeated number costs about 0.1 µs and no allocation,
// and Region, Kind and TypeOf of a normalized number are answered from the
// same cache. Mask, CallingCode and NormalizeSender's short codes and
// alphanumeric IDs never call libphonenumber.
package phone
