package simulator

import (
	"net/http"
	"regexp"
	"strings"
)

// The APIs a request can be routed to (Record.API).
const (
	apiMessages = "messages"
	apiCalls    = "calls"
	apiStudio   = "studio"
)

// format is the representation of an answer.
type format int

const (
	formatJSON format = iota
	formatXML
)

var flowSIDPattern = regexp.MustCompile(`^FW[0-9a-fA-F]{32}$`)

// route is what the method and path of a request designate.
type route struct {
	api        string // "" when nothing matched
	format     format
	accountSID string // 2010 API only
	flowSID    string // Studio only
}

// matchRoute maps a request to one of the simulated operations:
//
//	POST /2010-04-01/Accounts/{AccountSid}/Messages[.json|.xml]
//	POST /2010-04-01/Accounts/{AccountSid}/Calls[.json|.xml]
//	POST /v2/Flows/{FlowSid}/Executions
//
// The 2010 API answers XML unless the path ends in .json; everything else answers JSON.
// A request matching nothing gets route{} with the format its path suggests.
func matchRoute(method, path string) route {
	seg := strings.Split(path, "/")
	if len(seg) == 5 && seg[0] == "" && seg[1] == "2010-04-01" && seg[2] == "Accounts" && seg[3] != "" {
		resource, ext, _ := strings.Cut(seg[4], ".")
		rt := route{format: formatXML, accountSID: seg[3]}
		switch ext {
		case "json":
			rt.format = formatJSON
		case "xml", "":
		default:
			return route{format: formatOf(path)}
		}
		switch {
		case method != http.MethodPost:
		case resource == "Messages":
			rt.api = apiMessages
		case resource == "Calls":
			rt.api = apiCalls
		}
		if rt.api == "" {
			return route{format: rt.format}
		}
		return rt
	}
	if method == http.MethodPost && len(seg) == 5 && seg[0] == "" && seg[1] == "v2" && seg[2] == "Flows" &&
		seg[4] == "Executions" && flowSIDPattern.MatchString(seg[3]) {
		return route{api: apiStudio, format: formatJSON, flowSID: seg[3]}
	}
	return route{format: formatOf(path)}
}

// formatOf guesses the format of an unmatched path: XML for the 2010 API unless it asks
// for .json, JSON for everything else.
func formatOf(path string) format {
	if strings.HasPrefix(path, "/2010-04-01/") && !strings.HasSuffix(path, ".json") {
		return formatXML
	}
	return formatJSON
}
