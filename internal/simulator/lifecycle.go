package simulator

import "time"

// DefaultStatusStep is the time between two statuses of a message or call when
// Config.StatusStep is 0 or less.
const DefaultStatusStep = 100 * time.Millisecond

// outcome is how a message or call ends.
type outcome struct {
	final string // last status
	code  int    // error code, if any
	// answeredBy is a call's answered_by when MachineDetection is requested.
	answeredBy string
}

// messageOutcomes are the magic To numbers that make a created message end other than
// delivered (the number part of a channel address counts: whatsapp:+15005550010 too).
// Twilio documents no such numbers; these are the simulator's own, in the magic range.
var messageOutcomes = map[string]outcome{
	"+15005550010": {final: "undelivered", code: 30003},
	"+15005550011": {final: "failed", code: 30008},
	"+15005550012": {final: "undelivered", code: 30005},
	"+15005550013": {final: "undelivered", code: 30006},
	"+15005550014": {final: "undelivered", code: 30007},
	"+15005550015": {final: "sent"},
	"+15005550016": {final: "failed", code: 30001},
	"+15005550017": {final: "failed", code: 30036},
	"+15005550018": {final: "undelivered", code: 30034},
}

// callOutcomes are the magic To numbers that make a created call end other than
// completed.
var callOutcomes = map[string]outcome{
	"+15005550020": {final: "busy"},
	"+15005550021": {final: "no-answer"},
	"+15005550022": {final: "failed"},
	"+15005550023": {final: "completed", answeredBy: "machine_start"},
}

// deliveryErrors are the titles of the asynchronous error codes (error_message).
var deliveryErrors = map[int]string{
	30001: "Queue overflow",
	30003: "Unreachable destination handset",
	30005: "Unknown destination handset",
	30006: "Landline or unreachable carrier",
	30007: "Message filtered",
	30008: "Unknown error",
	30034: "Message from an unregistered number",
	30036: "Validity period expired",
}

// messageSteps plans a message's life: initial status at start (queued, accepted for a
// Messaging Service without From, or scheduled until sendAt), then one status per step:
//
//	queued → sent → delivered                      (or the outcome of a magic To)
//	accepted → queued → sent → delivered
//	scheduled → (at SendAt) queued → sent → delivered
//
// failed comes straight after queued; undelivered after sent; "sent" can be final.
// Twilio's transient "sending" is skipped.
func messageSteps(start time.Time, d time.Duration, initial string, sendAt time.Time, out outcome) []step {
	steps := []step{{at: start, status: initial}}
	t := start
	switch initial {
	case "scheduled":
		t = sendAt
		steps = append(steps, step{at: t, status: "queued"})
	case "accepted":
		t = t.Add(d)
		steps = append(steps, step{at: t, status: "queued"})
	}
	next := func(status string, code int) {
		t = t.Add(d)
		steps = append(steps, step{at: t, status: status, code: code})
	}
	switch out.final {
	case "failed":
		next("failed", out.code)
	case "sent":
		next("sent", 0)
	case "undelivered":
		next("sent", 0)
		next("undelivered", out.code)
	default:
		next("sent", 0)
		next("delivered", 0)
	}
	return steps
}

// callSteps plans a call's life, one status per step:
//
//	queued → ringing → in-progress → completed
//	queued → ringing → busy | no-answer
//	queued → failed
//
// Each step carries the StatusCallbackEvent it reports: initiated (queued), ringing,
// answered (in-progress), completed (every final status).
func callSteps(start time.Time, d time.Duration, out outcome) []step {
	steps := []step{{at: start, status: "queued", event: "initiated"}}
	t := start
	next := func(status, event string, code int) {
		t = t.Add(d)
		steps = append(steps, step{at: t, status: status, event: event, code: code})
	}
	switch out.final {
	case "failed":
		next("failed", "completed", out.code)
		return steps
	case "busy", "no-answer":
		next("ringing", "ringing", 0)
		next(out.final, "completed", 0)
		return steps
	}
	next("ringing", "ringing", 0)
	next("in-progress", "answered", 0)
	next("completed", "completed", 0)
	return steps
}

// finalStatus reports whether a status ends a resource's life.
func finalStatus(status string) bool {
	switch status {
	case "delivered", "undelivered", "failed", "canceled", "received", "read",
		"completed", "busy", "no-answer":
		return true
	}
	return false
}

// settled reports whether the resource has reached its last planned step by now (a
// message whose last step is "sent" is settled once sent).
func settled(steps []step, now time.Time) bool {
	return current(steps, now) == len(steps)-1
}

// truncate ends steps at now with a new final status, keeping the ones already begun.
// The result never shares its array with steps.
func truncate(steps []step, now time.Time, final step) []step {
	i := current(steps, now)
	out := make([]step, i+1, i+2)
	copy(out, steps[:i+1])
	final.at = now
	return append(out, final)
}
