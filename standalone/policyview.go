package standalone

import (
	"fmt"
	"strings"

	"github.com/portico-dev/portico/router"
)

// PolicyView is a route's effective policy in `portico routes`.
type PolicyView struct {
	// Source names the policy objects that apply.
	Source string `json:"source"`
	// Checks lists what runs on each request, in order.
	Checks []string `json:"checks,omitempty"`
	// Invalid, when set, says why every request of the route is answered
	// 500 instead.
	Invalid string `json:"invalid,omitempty"`
}

// policyView describes p (nil for none).
func policyView(p *router.Policy) *PolicyView {
	if p == nil {
		return nil
	}
	v := &PolicyView{Source: p.Source, Invalid: p.Invalid}
	if p.Invalid != "" {
		return v
	}
	if p.MaxRequestBody > 0 {
		v.Checks = append(v.Checks, fmt.Sprintf("maxRequestBody=%d", p.MaxRequestBody))
	}
	if p.BasicAuth != nil {
		v.Checks = append(v.Checks, "basicAuth")
	}
	if p.APIKey != nil {
		v.Checks = append(v.Checks, fmt.Sprintf("apiKey(%d keys)", len(p.APIKey.Keys)))
	}
	if p.JWT != nil {
		var names []string
		for _, pv := range p.JWT.Providers {
			names = append(names, pv.Name)
		}
		v.Checks = append(v.Checks, "jwt("+strings.Join(names, ",")+")")
	}
	if e := p.ExtAuth; e != nil {
		s := "extAuth"
		switch {
		case e.GRPC != nil:
			s += "(grpc " + e.GRPC.Address + ")"
		case e.HTTP != nil:
			s += "(http " + e.HTTP.URL + ")"
		}
		if e.MaxBody > 0 {
			s += fmt.Sprintf("+body≤%d", e.MaxBody)
			if e.PartialBody {
				s += "(partial)"
			}
		}
		if e.FailOpen {
			s += "+failOpen"
		}
		v.Checks = append(v.Checks, s)
	}
	if a := p.Authorization; a != nil {
		def := "deny"
		if a.Default == router.AuthzAllow {
			def = "allow"
		}
		v.Checks = append(v.Checks, fmt.Sprintf("authorization(%d rules, default %s)", len(a.Rules), def))
	}
	for _, l := range append([]*router.LocalRateLimit{p.RateLimit}, p.MoreRateLimits...) {
		if l == nil {
			continue
		}
		key, _ := l.Key.MarshalText()
		s := fmt.Sprintf("rateLimit(%d/%s per %s", l.Requests, l.Per, key)
		if l.KeyName != "" {
			s += " " + l.KeyName
		}
		if l.Shadow {
			s += ", shadow"
		}
		v.Checks = append(v.Checks, s+")")
	}
	if c := p.ConnLimit; c != nil {
		v.Checks = append(v.Checks, fmt.Sprintf("connLimit(%d per client)", c.Max))
	}
	if g := p.GlobalLimit; g != nil {
		key, _ := g.Key.MarshalText()
		s := fmt.Sprintf("globalRateLimit(%d/%s per %s", g.Requests, g.Per, key)
		if g.KeyName != "" {
			s += " " + g.KeyName
		}
		s += ", redis " + g.Redis
		if g.FailOpen {
			s += ", failOpen"
		}
		v.Checks = append(v.Checks, s+")")
	}
	return v
}

// text renders the view for the table.
func (v *PolicyView) text() string {
	if v == nil {
		return "-"
	}
	if v.Invalid != "" {
		return "INVALID, answers 500 (" + v.Source + ")"
	}
	return strings.Join(v.Checks, ",") + " (" + v.Source + ")"
}
