// Package simulator is an offline Twilio: an http.Handler that answers the Twilio REST
// operations the adapter and Twilio's SDKs use, with Twilio's status codes, error codes,
// bodies and headers, lets created messages and calls progress through their statuses,
// and posts signed status callbacks, so that the adapter can be tested (and load-tested)
// without reaching Twilio.
//
// It has no Caddy imports and never logs. Mount it on a port of its own: the control
// endpoints below are unauthenticated. Call Close when done with it.
//
// # Operations
//
//	POST   /2010-04-01/Accounts/{AccountSid}/Messages[.json|.xml]         create   201
//	GET    /2010-04-01/Accounts/{AccountSid}/Messages[.json|.xml]         list     200
//	GET    /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}[.json|.xml]   fetch    200
//	POST   /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}[.json|.xml]   update   200
//	DELETE /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}[.json|.xml]   delete   204
//	(the same five for Calls)
//	POST   /v2/Flows/{FlowSid}/Executions                                 create   201 (Studio; JSON)
//
// The 2010 API answers XML without an extension, as Twilio does. Another method on a 2010
// resource path is 405 / 20004 with Allow; anything else is 404 / 20404 (XML under
// /2010-04-01/ unless the path ends in .json). An unknown or foreign SID is 404 / 20404.
// Parameters come from an application/x-www-form-urlencoded body of at most 64 KiB
// (larger: 413 / 20001); like Twilio, other bodies carry no parameters. The list filters
// come from the query.
//
// Every answer carries Content-Type ContentTypeJSON ("application/json", what recorded
// api.twilio.com answers carry) or ContentTypeXML ("application/xml") (none on a 204),
// Twilio-Concurrent-Requests (the account's requests in flight), Twilio-Request-Duration
// (seconds, "0.012") and Twilio-Request-Id ("RQ" + 32 hex digits). A 401 carries
// WWW-Authenticate: Basic realm="Twilio API".
//
// Every parameter received is kept in the request's Record (Form, Query); Record.Ignored
// names those Twilio's OpenAPI does not define for the operation (Twilio ignores them),
// from the generated lists of package twilioapi.
//
// # Processing order
//
//  1. Route (else 405 / 20004 or 404 / 20404).
//  2. Basic auth (else 401 / 20003): an account SID with its AuthToken, an API key SID
//     ("SK...") with its secret for the key's own account, or, on the 2010 API only, the
//     parent account's SID and token for a subaccount. Valid credentials for a path
//     AccountSid that is not configured give 404 / 20404; valid credentials of an unrelated
//     account give 401 / 20003. Studio runs as the credentials' own account; see
//     Account.Flows for flows owned by a given account.
//  3. Concurrency: beyond Config.MaxConcurrent requests in flight for the account, 429 /
//     20429 "Too Many Requests"; the request is not processed.
//  4. Fault, if one is set for the account (see below): it applies to every operation.
//  5. Validation, in the order below, then the answer.
//
// # Messages create
//
// Checked in this order: 21604 To missing; 21603 From and MessagingServiceSid missing;
// 21701 MessagingServiceSid not ^MG[0-9a-fA-F]{32}$; 21602 none of Body, MediaUrl,
// ContentSid; 21617 Body over 1600 characters; 21211 To neither E.164 nor whatsapp:+E.164;
// 21609 StatusCallback not an absolute http(s) URL, with an underscore in its host or over
// 4000 characters; 21623 more than 10 MediaUrl; 21620 a MediaUrl not an absolute http(s)
// URL; 21624 ValidityPeriod not an integer from 1 to 36000; 21656 ContentVariables not a
// JSON object; 21212 From neither E.164, short code (3-8 digits), alphanumeric sender ID
// (1-11 letters, digits, spaces) nor whatsapp:+E.164; 21606 From not in Account.Senders;
// 21910 To and From of different channels; the magic To numbers; then scheduling:
// ScheduleType other than fixed 35126, without SendAt 35111, SendAt not RFC 3339 or not
// 15 minutes to 35 days ahead 35114, without a Messaging Service 35118 (SendAt without
// ScheduleType is ignored).
//
// A Messaging Service SID may stand in From. Every other parameter of the spec is
// accepted (ApplicationSid, MaxPrice, Attempt, SmartEncoded, ShortenUrls, RiskCheck, ...).
// A message with MediaUrl or SendAsMms=true gets an "MM" SID, otherwise "SM"; num_media
// counts MediaUrl; ProvideFeedback=true adds subresource_uris.feedback; num_segments counts
// GSM-7 (160/153 septets, extension characters take two) or UCS-2 (70/67 UTF-16 units).
//
// # Message and call life
//
// Each status lasts Config.StatusStep (100ms by default); fetch and list show the status
// reached by now, so no goroutine runs for a resource without a StatusCallback.
//
//	message, From given          queued → sent → delivered
//	message, Messaging Service   accepted → queued → sent → delivered (from: the account's
//	  without From               first Sender, else +15005550006, once queued)
//	message, ScheduleType=fixed  scheduled → (at SendAt) queued → sent → delivered
//	call                         queued → ringing → in-progress → completed
//
// Twilio's transient "sending" is skipped. date_sent is set when sent; a failed or
// undelivered message carries error_code and error_message. A call that was answered has
// start_time; every ended call has end_time and duration; answered_by is "human" when
// MachineDetection was asked for.
//
// Update: Status=canceled cancels a scheduled message (else 30409); Body="" redacts it
// (another Body: 20001). On a call, Status=canceled or completed cancels it while queued
// or ringing, completed hangs it up while in progress; Url or Twiml on an ended call is
// 21220. Delete: 20009 until the resource has reached its last status (cancel first).
// Fetch, update and delete accept the subaccount's resources with the parent's
// credentials, as on Twilio.
//
// List: newest first, Twilio's envelope (first_page_uri, end, previous_page_uri,
// messages|calls, uri, page_size, start, next_page_uri, page; in XML the attributes of
// <Messages>/<Calls>), PageSize 1-1000 (default 50), Page, PageToken (PA<sid>/PB<sid> in
// the next/previous page URIs, which keep the filters). Messages filter on To, From,
// DateSent, DateSent< and DateSent> (on or before / after; a date YYYY-MM-DD or an RFC 3339
// date-time; "=" compares UTC days); calls on To, From, Status, ParentCallSid (always
// empty), StartTime and EndTime (with < and >). A bad PageSize, Page or date is 20001.
//
// # Magic numbers
//
// Twilio's test numbers answer the create request (Twilio's own list, from
// twilio.com/docs/iam/test-credentials); the simulator's delivery numbers (+150055500NN from
// 10 up; Twilio has none) are accepted and then fail asynchronously, as a real handset
// would. For messages the number part of a whatsapp: address counts.
//
//	| API      | parameter | number          | result                                                               |
//	|----------|-----------|-----------------|----------------------------------------------------------------------|
//	| Messages | From      | +15005550006    | valid sender                                                         |
//	| Messages | From      | +15005550001    | 400 / 21212 invalid From                                             |
//	| Messages | From      | +15005550007    | 400 / 21606 From not owned by the account                            |
//	| Messages | From      | +15005550008    | 400 / 21611 From's queue is full                                     |
//	| Messages | To        | +15005550001    | 400 / 21211 invalid To                                               |
//	| Messages | To        | +15005550002    | 400 / 21612 To not reachable                                         |
//	| Messages | To        | +15005550003    | 400 / 21408 no geo permission for To's region                        |
//	| Messages | To        | +15005550004    | 400 / 21610 To unsubscribed (STOP)                                   |
//	| Messages | To        | +15005550009    | 400 / 21614 To not a mobile number                                   |
//	| Messages | To        | +15005550010    | 201, then sent → undelivered, ErrorCode 30003 (unreachable handset)  |
//	| Messages | To        | +15005550011    | 201, then failed, ErrorCode 30008 (unknown error)                    |
//	| Messages | To        | +15005550012    | 201, then sent → undelivered, ErrorCode 30005 (unknown handset)      |
//	| Messages | To        | +15005550013    | 201, then sent → undelivered, ErrorCode 30006 (landline)             |
//	| Messages | To        | +15005550014    | 201, then sent → undelivered, ErrorCode 30007 (filtered)             |
//	| Messages | To        | +15005550015    | 201, then sent, and no delivery receipt ever                         |
//	| Messages | To        | +15005550016    | 201, then failed, ErrorCode 30001 (queue overflow)                   |
//	| Messages | To        | +15005550017    | 201, then failed, ErrorCode 30036 (validity period expired)          |
//	| Messages | To        | +15005550018    | 201, then sent → undelivered, ErrorCode 30034 (unregistered sender)  |
//	| Messages | To        | any other       | 201, then sent → delivered                                           |
//	| Calls    | From      | +15005550006    | valid caller ID                                                      |
//	| Calls    | From      | +15005550001    | 400 / 21212 invalid From                                             |
//	| Calls    | From      | other +1500555… | 400 / 21210 caller ID not verified (ordinary numbers pass)           |
//	| Calls    | To        | +15005550001    | 400 / 21217 invalid To                                               |
//	| Calls    | To        | +15005550002    | 400 / 21214 To cannot be reached                                     |
//	| Calls    | To        | +15005550003    | 400 / 21215 no geo permission                                        |
//	| Calls    | To        | +15005550004    | 400 / 21216 To not allowed                                           |
//	| Calls    | To        | +15005550020    | 201, then ringing → busy                                             |
//	| Calls    | To        | +15005550021    | 201, then ringing → no-answer                                        |
//	| Calls    | To        | +15005550022    | 201, then failed                                                     |
//	| Calls    | To        | +15005550023    | 201, as any other; answered_by machine_start with MachineDetection  |
//	| Calls    | To        | any other       | 201, then ringing → in-progress → completed                          |
//
// Calls create also checks, in order: 21201 To missing; 21213 From missing; 21205 none of
// Url, Twiml, ApplicationSid (or a Url that is not an absolute http(s) URL); 21218
// ApplicationSid not ^AP[0-9a-fA-F]{32}$; 12100 Twiml over 4000 characters or not
// well-formed XML with a single <Response> root; 21217 To neither E.164 nor sip:/client:;
// 21626 a StatusCallbackEvent other than initiated, ringing, answered, completed; then
// From (21212, 21210, Account.Senders) and the magic To numbers.
//
// Studio: 20001 To or From missing ("Missing required parameter To in the post body"),
// 20001 "Invalid Parameters" when Parameters is not a JSON object.
//
// # Status callbacks
//
// A message or call created with StatusCallback gets Twilio's status callbacks, posted
// as form POSTs when each status begins (a message: every status after the initial one;
// a call: the StatusCallbackEvent events asked for, completed alone by default;
// StatusCallbackMethod=GET puts the parameters in the query):
//
//	message  MessageSid, SmsSid, MessageStatus, SmsStatus, AccountSid, From, To, ApiVersion,
//	         MessagingServiceSid (when used), ErrorCode (failed, undelivered),
//	         RawDlrDoneDate (delivered, undelivered; YYMMDDhhmm, UTC)
//	call     CallSid, AccountSid, From, Caller, To, Called, CallStatus (initiated, ringing,
//	         in-progress, then the final status), Direction, ApiVersion, CallbackSource,
//	         SequenceNumber, Timestamp, AnsweredBy (answered, with MachineDetection),
//	         CallDuration and Duration (the completed event)
//
// Each request carries X-Twilio-Signature, computed as Twilio does with the auth token of
// the account that owns the resource (twilioapi.Signature: HMAC-SHA1 of the URL followed
// by the parameters sorted by name), I-Twilio-Idempotency-Token, User-Agent
// TwilioProxy/1.1 and, for POST, Content-Type application/x-www-form-urlencoded. A
// "#..." fragment (Twilio's connection overrides) is dropped from the URL.
//
// Callbacks go only to loopback (127.0.0.0/8, ::1, localhost, which must resolve to
// loopback) and to Config.CallbackHosts; any other host is refused and recorded, never
// requested. No proxy, no redirects, no retries. Each request is bounded by
// Config.CallbackTimeout (5s); at most Config.MaxPendingCallbacks resources (1000) wait for
// callbacks at a time, later ones get none (recorded as dropped). Reset abandons pending
// callbacks; Close stops them for good. Callbacks() and GET /_simulator/callbacks list what
// was posted (with the receiver's status) or refused, dropped or failed; Stats().Callbacks
// counts them.
//
// # Fault modes
//
// A fault set for an account ("" = every account without its own) applies to that
// account's next requests (Count of them, or until cleared), after authentication and the
// concurrency check, before validation:
//
//	| mode           | answer                                                                 | resource created |
//	|----------------|------------------------------------------------------------------------|------------------|
//	| slow           | the normal answer after Delay (nothing if the client gives up first)   | yes              |
//	| 5xx            | 500 / 20500                                                            | no               |
//	| 503            | 503 / 20503                                                            | no               |
//	| 429            | 429 / 20429                                                            | no               |
//	| auth           | 401 / 20003, as for wrong credentials                                  | no               |
//	| code           | Status / Code (default 400 / 20001), Twilio's title for known codes    | no               |
//	| reset          | status line, headers and half the body, then the connection is closed  | yes              |
//	| malformed_json | the status with the first half of the JSON body                        | yes              |
//	| malformed_xml  | the status with the first half of the XML body                         | yes              |
//
// # Control endpoints
//
//	GET    /_simulator/records    JSON array of Record, oldest first
//	GET    /_simulator/callbacks  JSON array of Callback, oldest first
//	GET    /_simulator/stats      Stats as JSON
//	POST   /_simulator/fault      set a fault; form fields: account ("" = every account),
//	                              mode (a FaultMode; "" or "none" removes the account's fault),
//	                              count, delay (Go duration, e.g. "2s"), code, status.
//	                              204 on success, 400 {"error": "..."} naming the bad field
//	DELETE /_simulator/fault      clear every fault (204)
//	POST   /_simulator/reset      clear records, callbacks, counters, faults, messages and calls (204)
//
// For example:
//
//	curl -d mode=code -d code=21611 -d status=400 -d count=1 http://127.0.0.1:8089/_simulator/fault
package simulator
