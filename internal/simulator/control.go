package simulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// controlPrefix starts the paths of the control endpoints (see the package documentation).
const controlPrefix = "/_simulator/"

// serveControl answers the control endpoints. They are unauthenticated, not recorded and
// not counted: mount the simulator on a port of its own.
func (s *Simulator) serveControl(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case controlPrefix + "records":
		if allow(w, r, http.MethodGet) {
			writeControlJSON(w, http.StatusOK, s.Records())
		}
	case controlPrefix + "callbacks":
		if allow(w, r, http.MethodGet) {
			writeControlJSON(w, http.StatusOK, s.Callbacks())
		}
	case controlPrefix + "stats":
		if allow(w, r, http.MethodGet) {
			writeControlJSON(w, http.StatusOK, s.Stats())
		}
	case controlPrefix + "fault":
		switch r.Method {
		case http.MethodPost:
			s.postFault(w, r)
		case http.MethodDelete:
			s.ClearFaults()
			w.WriteHeader(http.StatusNoContent)
		default:
			w.Header().Set("Allow", "POST, DELETE")
			controlError(w, http.StatusMethodNotAllowed, "method %s not allowed", r.Method)
		}
	case controlPrefix + "reset":
		if allow(w, r, http.MethodPost) {
			s.Reset()
			w.WriteHeader(http.StatusNoContent)
		}
	default:
		controlError(w, http.StatusNotFound, "no control endpoint %s", r.URL.Path)
	}
}

func allow(w http.ResponseWriter, r *http.Request, method string) bool {
	if r.Method == method {
		return true
	}
	w.Header().Set("Allow", method)
	controlError(w, http.StatusMethodNotAllowed, "method %s not allowed", r.Method)
	return false
}

// postFault installs the fault described by the form fields account, mode, count, delay
// (a Go duration), code and status. An empty mode or "none" removes the account's fault.
func (s *Simulator) postFault(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	if err := r.ParseForm(); err != nil {
		controlError(w, http.StatusBadRequest, "parsing form: %v", err)
		return
	}
	f := Fault{Mode: FaultMode(r.FormValue("mode"))}
	if f.Mode == "none" {
		f.Mode = ""
	}
	if f.Mode != "" && !faultModes[f.Mode] {
		controlError(w, http.StatusBadRequest, "field mode: unknown fault mode %q", f.Mode)
		return
	}
	var err error
	for _, field := range []struct {
		name string
		dst  *int
	}{{"count", &f.Count}, {"code", &f.Code}, {"status", &f.Status}} {
		if v := r.FormValue(field.name); v != "" {
			if *field.dst, err = strconv.Atoi(v); err != nil || *field.dst < 0 {
				controlError(w, http.StatusBadRequest, "field %s: not a non-negative integer: %q", field.name, v)
				return
			}
		}
	}
	if v := r.FormValue("delay"); v != "" {
		if f.Delay, err = time.ParseDuration(v); err != nil || f.Delay < 0 {
			controlError(w, http.StatusBadRequest, "field delay: not a Go duration: %q", v)
			return
		}
	}
	if f.Status != 0 && (f.Status < 100 || f.Status > 599) {
		controlError(w, http.StatusBadRequest, "field status: not an HTTP status: %d", f.Status)
		return
	}
	s.SetFault(r.FormValue("account"), f)
	w.WriteHeader(http.StatusNoContent)
}

func writeControlJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", ContentTypeJSON)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func controlError(w http.ResponseWriter, status int, format string, args ...any) {
	writeControlJSON(w, status, map[string]string{"error": fmt.Sprintf(format, args...)})
}
