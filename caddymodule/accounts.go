package caddymodule

import (
	"errors"
	"fmt"
	"strings"

	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/dispatch"
	"github.com/twilio-sms-adapter/caddy-twilio-sms/internal/phone"
)

func (a *AccountConfig) resolve(res func(*string)) {
	for _, s := range []*string{&a.AccountSID, &a.AuthToken, &a.From, &a.MessagingServiceSID, &a.APIURL, &a.StudioURL} {
		res(s)
	}
	if a.APIKey != nil {
		res(&a.APIKey.SID)
		res(&a.APIKey.Secret)
	}
}

// hosts resolves the API and Studio base URLs: explicit URLs win, then
// edge/region, then the inherited values (or Twilio's defaults).
func hosts(where, apiURL, studioURL, edge, region, inheritAPI, inheritStudio string) (string, string, error) {
	api, studio := inheritAPI, inheritStudio
	if edge != "" || region != "" {
		var err error
		if api, studio, err = dispatch.BaseURLs(edge, region); err != nil {
			return "", "", fmt.Errorf("%sedge/region: %w", where, err)
		}
	}
	if apiURL != "" {
		u, err := upstreamBase(where+"api_url", apiURL)
		if err != nil {
			return "", "", err
		}
		api = u
	}
	if studioURL != "" {
		u, err := upstreamBase(where+"studio_url", studioURL)
		if err != nil {
			return "", "", err
		}
		studio = u
	}
	if api == "" {
		api = dispatch.DefaultAPIBase
	}
	if studio == "" {
		studio = dispatch.DefaultStudioBase
	}
	return api, studio, nil
}

func senders(where string, list []SenderConfig, norm phone.Normalizer) ([]dispatch.Sender, error) {
	var out []dispatch.Sender
	for i, sc := range list {
		w := fmt.Sprintf("%ssender[%d]", where, i)
		num, err := norm.NormalizeSender(sc.Number)
		if err != nil {
			return nil, fmt.Errorf("%s: number %w", w, err)
		}
		s := dispatch.Sender{Number: num, Type: dispatch.SenderType(sc.Type), Countries: sc.Countries}
		if s.Type == "" {
			s.Type = dispatch.SenderType("standard")
		}
		chans := sc.Channels
		if len(chans) == 0 {
			chans = []string{"sms"}
		}
		for _, c := range chans {
			switch c {
			case "sms":
				s.SMS = true
			case "voice":
				s.Voice = true
			default:
				return nil, fmt.Errorf("%s: channel %q must be sms or voice", w, c)
			}
		}
		for j, c := range s.Countries {
			if !phone.ValidRegion(c) {
				return nil, fmt.Errorf("%s: country %q is not an ISO region", w, c)
			}
			s.Countries[j] = strings.ToUpper(c)
		}
		out = append(out, s)
	}
	return out, nil
}

// account turns a config block into a dispatch.Account; main supplies inherited
// credentials and hosts.
func (h *Handler) account(where string, ac *AccountConfig, main *dispatch.Account, norm phone.Normalizer) (dispatch.Account, error) {
	a := dispatch.Account{Name: ac.Name, AccountSID: ac.AccountSID, MessagingServiceSID: ac.MessagingServiceSID}
	switch {
	case ac.APIKey != nil:
		a.Username, a.Password = ac.APIKey.SID, ac.APIKey.Secret
	case ac.AuthToken != "":
		a.Username, a.Password = ac.AccountSID, ac.AuthToken
	case main != nil:
		a.Username, a.Password = main.Username, main.Password
	}
	var err error
	inheritAPI, inheritStudio := "", ""
	if main != nil {
		inheritAPI, inheritStudio = main.APIBase, main.StudioBase
	}
	if a.APIBase, a.StudioBase, err = hosts(where, ac.APIURL, ac.StudioURL, ac.Edge, ac.Region, inheritAPI, inheritStudio); err != nil {
		return a, err
	}
	if a.Senders, err = senders(where, ac.Sender, norm); err != nil {
		return a, err
	}
	if ac.From != "" {
		from, err := norm.NormalizeSender(ac.From)
		if err != nil {
			return a, fmt.Errorf("%sfrom: %w", where, err)
		}
		if len(a.Senders) > 0 {
			return a, fmt.Errorf("%sfrom and sender are exclusive: list the from number as a sender", where)
		}
		a.Senders = []dispatch.Sender{{Number: from, Type: "standard", SMS: true, Voice: true}}
	}
	return a, nil
}

// buildRouter builds the main account, the country subaccounts and the fallback
// chain, checking that each can serve the route's channel.
func (h *Handler) buildRouter(norm phone.Normalizer) error {
	mainCfg := h.Account
	if h.Credentials == CredentialsPassthrough {
		// Checked per request: the caller's Basic credentials and account.
		mainCfg.AccountSID = passthroughPlaceholderSID
		mainCfg.AuthToken = "passthrough"
	}
	main, err := h.account("", &mainCfg, nil, norm)
	if err != nil {
		return err
	}
	if err := validateAccount("", &main); err != nil {
		return err
	}
	// A number or Messaging Service belongs to one Twilio account: when the main
	// account has its own senders, every other account needs its own too.
	mainHasSender := len(main.Senders) > 0 || main.MessagingServiceSID != ""
	needSender := func(where string, a *dispatch.Account) error {
		if mainHasSender && len(a.Senders) == 0 && a.MessagingServiceSID == "" {
			return fmt.Errorf("%sneeds its own from, sender or messaging_service_sid (a number belongs to one Twilio account)", where)
		}
		return nil
	}
	var countries []dispatch.CountryRule
	prefixes := map[string]string{}
	for i := range h.Subaccount {
		sc := &h.Subaccount[i]
		where := fmt.Sprintf("subaccount %s: ", sc.Prefix)
		digits := strings.TrimPrefix(sc.Prefix, "+")
		if digits == "" || len(digits) > 4 || digits[0] == '0' || strings.Trim(digits, "0123456789") != "" {
			return fmt.Errorf("%sprefix must be a country dialing code of 1 to 4 digits, like +91 or +1876", where)
		}
		if other, dup := prefixes[digits]; dup {
			return fmt.Errorf("%sduplicate prefix, already used by subaccount %s", where, other)
		}
		prefixes[digits] = sc.Prefix
		a, err := h.account(where, &sc.AccountConfig, &main, norm)
		if err != nil {
			return err
		}
		if err := validateAccount(where, &a); err != nil {
			return err
		}
		if err := needSender(where, &a); err != nil {
			return err
		}
		countries = append(countries, dispatch.CountryRule{Prefix: sc.Prefix, Account: a})
	}
	var fallback []dispatch.Account
	for i := range h.Fallback {
		where := fmt.Sprintf("fallback[%d] %s: ", i, h.Fallback[i].Name)
		a, err := h.account(where, &h.Fallback[i], &main, norm)
		if err != nil {
			return err
		}
		if err := validateAccount(where, &a); err != nil {
			return err
		}
		if err := needSender(where, &a); err != nil {
			return err
		}
		fallback = append(fallback, a)
	}
	h.router, err = dispatch.NewRouter(main, countries, fallback)
	if err != nil {
		return err
	}
	// A pool must be able to serve the route's channel (a voice route needs a
	// voice-capable number on every account). Studio takes From like SMS.
	channel := dispatch.Channel(h.Channel)
	if h.StudioFlowSID != "" {
		channel = "sms"
	}
	check := func(where string, a *dispatch.Account) error {
		if len(a.Senders) == 0 && a.MessagingServiceSID == "" {
			return nil // the caller's own from field, or a mapping that needs none
		}
		if err := dispatch.ValidatePool(a, channel); err != nil {
			return fmt.Errorf("%s%w", where, err)
		}
		return nil
	}
	if err := check("", &h.router.Main); err != nil {
		return err
	}
	for i := range h.router.Countries {
		if err := check("subaccount "+h.router.Countries[i].Prefix+": ", &h.router.Countries[i].Account); err != nil {
			return err
		}
	}
	for i := range h.router.Fallback {
		if err := check(fmt.Sprintf("fallback[%d]: ", i), &h.router.Fallback[i]); err != nil {
			return err
		}
	}
	if h.StudioFlowSID != "" {
		for i := range h.Subaccount {
			if h.Subaccount[i].AuthToken == "" && h.Subaccount[i].APIKey == nil {
				return errors.New("subaccount " + h.Subaccount[i].Prefix + ": with studio_flow_sid, Studio needs the subaccount's own auth_token or api_key (Twilio does not accept the parent's credentials for Studio)")
			}
		}
		for i := range h.Fallback {
			if h.Fallback[i].AuthToken == "" && h.Fallback[i].APIKey == nil {
				return fmt.Errorf("fallback[%d] %s: with studio_flow_sid, Studio needs the fallback's own auth_token or api_key (borrowing the main account's would run the main account's flow again)", i, h.Fallback[i].Name)
			}
		}
	}
	return nil
}

// configKeys maps dispatch.Account's Go field names onto the config's settings.
var configKeys = map[string]string{
	"Name": "name", "AccountSID": "account_sid", "Username": "auth_token or api_key", "Password": "auth_token or api_key secret",
	"APIBase": "api_url", "StudioBase": "studio_url", "MessagingServiceSID": "messaging_service_sid", "Senders": "sender",
}

// validateAccount checks one account and names the offending setting as the
// Caddyfile and JSON call it.
func validateAccount(where string, a *dispatch.Account) error {
	err := a.Validate()
	var fe *dispatch.FieldError
	if !errors.As(err, &fe) {
		return err
	}
	field := fe.Field
	head, rest, _ := strings.Cut(field, ".")
	base, index, _ := strings.Cut(head, "[")
	if key, ok := configKeys[base]; ok {
		field = key
		if index != "" {
			field += "[" + index
		}
		if rest != "" {
			field += "." + strings.ToLower(rest)
		}
	}
	return fmt.Errorf("%s%s %s", where, field, fe.Reason)
}

// passthroughPlaceholderSID stands for "the caller's account" in a passthrough
// route's main account; it is replaced per request and never sent.
const passthroughPlaceholderSID = "AC00000000000000000000000000000000"
