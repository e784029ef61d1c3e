// Package simulator is an offline Twilio: an http.Handler that answers the few Twilio REST
// operations the adapter uses, with Twilio's status codes, error codes, bodies and headers,
// so that the adapter can be tested (and load-tested) without reaching Twilio.
//
// It has no Caddy imports and never logs. Mount it on a port of its own: the control
// endpoints below are unauthenticated.
//
// # Operations
//
//	POST /2010-04-01/Accounts/{AccountSid}/Messages.json   JSON
//	POST /2010-04-01/Accounts/{AccountSid}/Messages[.xml]  XML (the 2010 API's default)
//	POST /2010-04-01/Accounts/{AccountSid}/Calls.json      JSON
//	POST /2010-04-01/Accounts/{AccountSid}/Calls[.xml]     XML
//	POST /v2/Flows/{FlowSid}/Executions                    JSON (Studio; FlowSid ^FW[0-9a-fA-F]{32}$)
//
// Anything else is 404 / 20404 (XML under /2010-04-01/ unless the path ends in .json).
// Parameters come from an application/x-www-form-urlencoded body of at most 64 KiB
// (larger: 413 / 20001); like Twilio, other bodies carry no parameters and the query string
// is ignored. Every answer has Content-Type "application/json; charset=utf-8" or
// "application/xml", Twilio-Concurrent-Requests (requests of the account in flight),
// Twilio-Request-Duration (seconds, "0.012") and Twilio-Request-Id ("RQ...").
//
// # Processing order
//
//  1. Route (else 404 / 20404).
//  2. Basic auth (else 401 / 20003): an account SID with its AuthToken, an API key SID
//     ("SK...") with its secret for the key's own account, or, on the 2010 API only, the
//     parent account's SID and token for a subaccount. Valid credentials for a path
//     AccountSid that is not configured give 404 / 20404; valid credentials of an unrelated
//     account give 401 / 20003. Studio runs as the credentials' own account; see
//     Account.Flows for flows owned by a given account.
//  3. Concurrency: beyond Config.MaxConcurrent requests in flight for the account, 429 /
//     20429 "Too Many Requests"; the request is not processed.
//  4. Fault, if one is set for the account (see FaultMode).
//  5. Validation, in Twilio's order, then 201 with the created resource.
//
// # Error codes
//
// Messages: 21604 To missing; 21603 From and MessagingServiceSid missing; 21701
// MessagingServiceSid not ^MG[0-9a-fA-F]{32}$; 21602 none of Body, MediaUrl, ContentSid;
// 21617 Body over 1600 characters; 21211 To not E.164; 21212 From neither E.164, short code
// (3-8 digits) nor alphanumeric sender ID (1-11 letters, digits, spaces); 21606 From not in
// Account.Senders. Magic From: +15005550006 valid, +15005550001 21212, +15005550007 21606,
// +15005550008 21611. Magic To: +15005550001 21211, +15005550002 21612, +15005550003 21408,
// +15005550004 21610, +15005550009 21614. Other From values are accepted.
// A message with MediaUrl gets an "MM" SID, otherwise "SM"; num_segments counts GSM-7
// (160/153 septets, extension characters take two) or UCS-2 (70/67 UTF-16 units).
//
// Calls: 21201 To missing; 21213 From missing; 21205 none of Url, Twiml, ApplicationSid
// (also for a Url that is not an absolute http(s) URL); 21218 ApplicationSid not
// ^AP[0-9a-fA-F]{32}$; 12100 Twiml over 4000 characters or not well-formed XML with a single
// <Response> root; 21217 To neither E.164 nor sip:/client:; 21212 From neither. Magic From:
// +15005550006 valid, +15005550001 21212, any other +1500555... 21210 (ordinary numbers are
// accepted); a From outside Account.Senders 21210. Magic To: +15005550001 21217,
// +15005550002 21214, +15005550003 21215, +15005550004 21216.
//
// Studio: 20001 To or From missing ("Missing required parameter To in the post body"),
// 20001 "Invalid Parameters" when Parameters is not a JSON object.
//
// # Control endpoints
//
//	GET    /_simulator/records  JSON array of Record, oldest first
//	GET    /_simulator/stats    Stats as JSON
//	POST   /_simulator/fault    set a fault; form fields: account ("" = every account),
//	                            mode (a FaultMode; "" or "none" removes the account's fault),
//	                            count, delay (Go duration, e.g. "2s"), code, status.
//	                            204 on success, 400 {"error": "..."} naming the bad field
//	DELETE /_simulator/fault    clear every fault (204)
//	POST   /_simulator/reset    clear records, counters and faults (204)
//
// For example:
//
//	curl -d mode=code -d code=21611 -d status=400 -d count=1 http://127.0.0.1:8089/_simulator/fault
package simulator
