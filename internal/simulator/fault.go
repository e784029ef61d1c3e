package simulator

import (
	"net/http"
	"strconv"
	"sync"
	"time"
)

// FaultMode names a way the simulated Twilio misbehaves.
type FaultMode string

// The fault modes. "Accepted" faults create and count the resource, then spoil the answer:
// the client cannot tell whether its message went out. The others refuse the request.
const (
	// FaultSlow accepts and counts the request, then waits Delay before answering; it stops
	// waiting (and answers nothing) when the request's context ends.
	FaultSlow FaultMode = "slow"
	// Fault5xx answers 500 / 20500; nothing is created.
	Fault5xx FaultMode = "5xx"
	// Fault503 answers 503 / 20503; nothing is created.
	Fault503 FaultMode = "503"
	// Fault429 answers 429 / 20429; nothing is created.
	Fault429 FaultMode = "429"
	// FaultReset accepts and counts the request, sends the status line, the headers and half
	// of the body announced by Content-Length, then closes the connection.
	FaultReset FaultMode = "reset"
	// FaultMalformedJSON accepts and counts the request and answers its status with the
	// first half of the JSON body (Content-Type JSON), whatever format was asked for.
	FaultMalformedJSON FaultMode = "malformed_json"
	// FaultMalformedXML is FaultMalformedJSON with the XML body.
	FaultMalformedXML FaultMode = "malformed_xml"
	// FaultAuth answers 401 / 20003 as if the credentials were wrong.
	FaultAuth FaultMode = "auth"
	// FaultCode answers Fault.Status / Fault.Code (default 400 / 20001); nothing is created.
	FaultCode FaultMode = "code"
)

// faultModes lists the valid modes.
var faultModes = map[FaultMode]bool{
	FaultSlow: true, Fault5xx: true, Fault503: true, Fault429: true, FaultReset: true,
	FaultMalformedJSON: true, FaultMalformedXML: true, FaultAuth: true, FaultCode: true,
}

// Fault makes the simulator misbehave for the requests of one account (or all accounts).
// Faults apply to requests that authenticated and got a concurrency slot, before validation.
type Fault struct {
	Mode FaultMode
	// Count is how many requests get the fault before the simulator recovers;
	// 0 means until cleared.
	Count int
	// Delay is how long FaultSlow waits.
	Delay time.Duration
	// Code and Status are the error FaultCode answers, e.g. 21606 / 400 or 21611 / 400.
	Code, Status int
}

// answer returns the answer of a fault that replaces processing; replaced is false for the
// faults that let the request be processed and spoil the delivery instead.
func (f Fault) answer() (a answer, replaced bool) {
	switch f.Mode {
	case Fault5xx:
		return restError(http.StatusInternalServerError, 20500, "Internal Server Error", ""), true
	case Fault503:
		return restError(http.StatusServiceUnavailable, 20503, "Service Unavailable", ""), true
	case Fault429:
		return restError(http.StatusTooManyRequests, 20429, "Too Many Requests", ""), true
	case FaultAuth:
		return authError(), true
	case FaultCode:
		status, code := f.Status, f.Code
		if status == 0 {
			status = http.StatusBadRequest
		}
		if code == 0 {
			code = 20001
		}
		return restError(status, code, errorTitle(code), ""), true
	}
	return answer{}, false
}

// errorTitle is the message FaultCode answers with: Twilio's title for the codes the
// adapter cares about, a generic text for the others.
func errorTitle(code int) string {
	if t, ok := errorTitles[code]; ok {
		return t
	}
	return "Simulated Twilio error " + strconv.Itoa(code)
}

var errorTitles = map[int]string{
	20001: "Invalid parameter",
	20003: "Authenticate",
	20404: "The requested resource was not found",
	20429: "Too Many Requests",
	20500: "Internal Server Error",
	20503: "Service Unavailable",
	21211: "Invalid 'To' Phone Number",
	21212: "Invalid 'From' Phone Number",
	21408: "Permission to send an SMS has not been enabled for the region indicated by the 'To' number",
	21606: "The 'From' phone number provided is not a valid message-capable Twilio phone number for this destination/account",
	21608: "The number is unverified. Trial accounts cannot send messages to unverified numbers",
	21610: "Attempt to send to unsubscribed recipient",
	21611: "This 'From' number has exceeded the maximum number of queued messages",
	21612: "The 'To' phone number is not currently reachable via SMS",
	21614: "'To' number is not a valid mobile number",
	21635: "'To' number cannot be a landline",
	21659: "'From' is not a Twilio phone number or Short Code country mismatch",
}

// faultTable holds the active faults by account SID ("" = every account).
type faultTable struct {
	mu sync.Mutex
	m  map[string]*Fault
}

// set installs f for accountSID, or removes that account's fault when f.Mode is empty.
func (t *faultTable) set(accountSID string, f Fault) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if f.Mode == "" {
		delete(t.m, accountSID)
		return
	}
	if t.m == nil {
		t.m = make(map[string]*Fault)
	}
	t.m[accountSID] = &f
}

func (t *faultTable) clear() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.m = nil
}

// take returns the fault for accountSID (its own, else the one for every account) and
// consumes one of its Count.
func (t *faultTable) take(accountSID string) (Fault, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	key := accountSID
	f := t.m[key]
	if f == nil {
		key = ""
		f = t.m[key]
	}
	if f == nil {
		return Fault{}, false
	}
	if f.Count > 0 {
		f.Count--
		if f.Count == 0 {
			delete(t.m, key)
		}
	}
	return *f, true
}

// SetFault makes the simulator misbehave for accountSID ("" = every account without a fault
// of its own) until cleared or until Count requests got it. A Fault with an empty Mode
// removes the account's fault. Unknown modes are ignored.
func (s *Simulator) SetFault(accountSID string, f Fault) {
	if f.Mode != "" && !faultModes[f.Mode] {
		return
	}
	s.faults.set(accountSID, f)
}

// ClearFaults removes every fault.
func (s *Simulator) ClearFaults() {
	s.faults.clear()
}
