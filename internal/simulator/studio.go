package simulator

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"time"
)

// studioBase is the origin of the Studio API, used in the absolute URLs it answers with.
const studioBase = "https://studio.twilio.com"

// executionJSON is Studio's Execution resource, fields in the order of Twilio's OpenAPI.
type executionJSON struct {
	SID                   string            `json:"sid"`
	AccountSID            string            `json:"account_sid"`
	FlowSID               string            `json:"flow_sid"`
	ContactChannelAddress string            `json:"contact_channel_address"`
	ContactSID            string            `json:"contact_sid"`
	FlowVersion           int               `json:"flow_version"`
	Context               map[string]any    `json:"context"`
	Status                string            `json:"status"`
	DateCreated           string            `json:"date_created"`
	DateUpdated           string            `json:"date_updated"`
	InitiatedBy           string            `json:"initiated_by"`
	URL                   string            `json:"url"`
	Links                 map[string]string `json:"links"`
}

// createExecution validates a Studio Executions create request and answers 201 with an
// active execution. Studio answers JSON only.
func createExecution(x *exchange) answer {
	to, from, params := value(x.form, "To"), value(x.form, "From"), value(x.form, "Parameters")
	switch {
	case to == "":
		return invalid(20001, "Missing required parameter To in the post body")
	case from == "":
		return invalid(20001, "Missing required parameter From in the post body")
	case params != "" && !isJSONObject(params):
		return invalid(20001, "Invalid Parameters")
	}
	sid := newSID("FN")
	now := time.Now().UTC().Format(time.RFC3339)
	url := studioBase + "/v2/Flows/" + x.route.flowSID + "/Executions/" + sid
	e := &executionJSON{
		SID:                   sid,
		AccountSID:            x.acc.sid,
		FlowSID:               x.route.flowSID,
		ContactChannelAddress: to,
		ContactSID:            contactSID(x.acc.sid, to),
		FlowVersion:           1,
		Context:               map[string]any{},
		Status:                "active",
		DateCreated:           now,
		DateUpdated:           now,
		InitiatedBy:           x.requestID,
		URL:                   url,
		Links:                 map[string]string{"steps": url + "/Steps", "execution_context": url + "/Context"},
	}
	return answer{status: http.StatusCreated, sid: sid, accepted: true, json: e}
}

func isJSONObject(s string) bool {
	var m map[string]any
	return json.Unmarshal([]byte(s), &m) == nil && m != nil
}

// contactSID is the stable Contact SID Studio gives an address within an account.
func contactSID(accountSID, address string) string {
	sum := sha256.Sum256([]byte(accountSID + "\x00" + address))
	return "FC" + hex.EncodeToString(sum[:16])
}
