package twilioapi

// Param is one parameter of a Twilio operation, as Twilio's OpenAPI spec describes it.
type Param struct {
	// Name is the form field (or query parameter), e.g. "StatusCallback".
	Name string
	// Type is the JSON schema type of one value: "string", "integer", "number" or "boolean".
	// On the wire every value is a string.
	Type string
	// Format is the spec's format, e.g. "phone-number", "uri", "date-time", "http-method".
	Format string
	// Repeated is set for array parameters: the field may be sent several times (MediaUrl).
	Repeated bool
	// Required is set for the parameters the spec marks required.
	Required bool
	// Enum lists the allowed values, when the spec restricts them.
	Enum []string
	// Pattern is the regular expression a value must match, when the spec gives one.
	Pattern string
	// Description is the first sentence of the spec's description, links reduced to their text.
	Description string
}

var (
	messageCreate = index(MessageCreateParams)
	messageUpdate = index(MessageUpdateParams)
	messageList   = index(MessageListParams)
	callCreate    = index(CallCreateParams)
	callUpdate    = index(CallUpdateParams)
	callList      = index(CallListParams)
)

func index(ps []Param) map[string]Param {
	m := make(map[string]Param, len(ps))
	for _, p := range ps {
		m[p.Name] = p
	}
	return m
}

// IsMessageCreateParam reports whether Twilio's spec lists name as a form parameter of
// CreateMessage. Names are case-sensitive, as on Twilio.
func IsMessageCreateParam(name string) bool { _, ok := messageCreate[name]; return ok }

// IsMessageUpdateParam reports whether name is a form parameter of UpdateMessage.
func IsMessageUpdateParam(name string) bool { _, ok := messageUpdate[name]; return ok }

// IsMessageListParam reports whether name is a query parameter of ListMessage.
func IsMessageListParam(name string) bool { _, ok := messageList[name]; return ok }

// IsCallCreateParam reports whether name is a form parameter of CreateCall.
func IsCallCreateParam(name string) bool { _, ok := callCreate[name]; return ok }

// IsCallUpdateParam reports whether name is a form parameter of UpdateCall.
func IsCallUpdateParam(name string) bool { _, ok := callUpdate[name]; return ok }

// IsCallListParam reports whether name is a query parameter of ListCall.
func IsCallListParam(name string) bool { _, ok := callList[name]; return ok }

// Lookup returns the parameter called name in params.
func Lookup(params []Param, name string) (Param, bool) {
	for _, p := range params {
		if p.Name == name {
			return p, true
		}
	}
	return Param{}, false
}
