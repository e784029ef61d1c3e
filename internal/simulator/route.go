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

// The operations on an API (Record.Op).
const (
	opCreate = "create"
	opFetch  = "fetch"
	opList   = "list"
	opUpdate = "update"
	opDelete = "delete"
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
	op         string
	format     format
	accountSID string // 2010 API only
	sid        string // the resource of an instance path (fetch, update, delete)
	flowSID    string // Studio only
	// allow is set when the path names a 2010 resource but the method is not one of
	// these (405).
	allow string
}

// 2010 resources by path segment.
var resources = map[string]string{"Messages": apiMessages, "Calls": apiCalls}

// matchRoute maps a request to one of the simulated operations:
//
//	POST   /2010-04-01/Accounts/{AccountSid}/{Messages|Calls}[.json|.xml]         create
//	GET    /2010-04-01/Accounts/{AccountSid}/{Messages|Calls}[.json|.xml]         list
//	GET    /2010-04-01/Accounts/{AccountSid}/{Messages|Calls}/{Sid}[.json|.xml]   fetch
//	POST   /2010-04-01/Accounts/{AccountSid}/{Messages|Calls}/{Sid}[.json|.xml]   update
//	DELETE /2010-04-01/Accounts/{AccountSid}/{Messages|Calls}/{Sid}[.json|.xml]   delete
//	POST   /v2/Flows/{FlowSid}/Executions                                         create
//
// The 2010 API answers XML unless the path ends in .json; everything else answers JSON.
// A request matching nothing gets route{} with the format its path suggests, and allow
// set when only the method is wrong.
func matchRoute(method, path string) route {
	seg := strings.Split(path, "/")
	if (len(seg) == 5 || len(seg) == 6) && seg[0] == "" && seg[1] == "2010-04-01" && seg[2] == "Accounts" && seg[3] != "" {
		last, ext, _ := strings.Cut(seg[len(seg)-1], ".")
		rt := route{format: formatXML, accountSID: seg[3]}
		switch ext {
		case "json":
			rt.format = formatJSON
		case "xml", "":
		default:
			return route{format: formatOf(path)}
		}
		name := last
		if len(seg) == 6 {
			name, rt.sid = seg[4], last
			if rt.sid == "" {
				return route{format: rt.format}
			}
		}
		api, ok := resources[name]
		if !ok {
			return route{format: rt.format}
		}
		rt.api = api
		switch {
		case rt.sid == "" && method == http.MethodPost:
			rt.op = opCreate
		case rt.sid == "" && method == http.MethodGet:
			rt.op = opList
		case rt.sid != "" && method == http.MethodGet:
			rt.op = opFetch
		case rt.sid != "" && method == http.MethodPost:
			rt.op = opUpdate
		case rt.sid != "" && method == http.MethodDelete:
			rt.op = opDelete
		case rt.sid == "":
			return route{format: rt.format, allow: "GET, POST"}
		default:
			return route{format: rt.format, allow: "GET, POST, DELETE"}
		}
		return rt
	}
	if method == http.MethodPost && len(seg) == 5 && seg[0] == "" && seg[1] == "v2" && seg[2] == "Flows" &&
		seg[4] == "Executions" && flowSIDPattern.MatchString(seg[3]) {
		return route{api: apiStudio, op: opCreate, format: formatJSON, flowSID: seg[3]}
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
