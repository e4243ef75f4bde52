package translate

import (
	"cmp"
	"fmt"
	"strings"
	"time"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	portico "github.com/portico-dev/portico/api/v1alpha1"
	"github.com/portico-dev/portico/router"
)

// routeShaping is what a TrafficPolicy sets on its routes themselves
// rather than in their router.Policy: how answers are shaped.
type routeShaping struct {
	compression *router.Compression
	overrides   []router.ResponseOverride
	session     *router.SessionPersistence
}

// convertShaping converts a TrafficPolicy's compression, responseOverride
// and sessionPersistence; field and message say what is wrong.
func convertShaping(spec *portico.TrafficPolicySpec) (routeShaping, string, string) {
	var out routeShaping
	if c := spec.Compression; c != nil {
		rc := &router.Compression{ContentTypes: c.ContentTypes}
		for _, e := range c.Encodings {
			rc.Encodings = append(rc.Encodings, router.Encoding(e))
		}
		if c.MinLength != nil {
			q := c.MinLength.DeepCopy()
			if rc.MinLength = q.Value(); rc.MinLength < 0 {
				return out, "spec.compression.minLength", "must not be negative"
			}
			if rc.MinLength == 0 {
				rc.MinLength = 1 // 0 would mean the default
			}
		}
		if err := rc.Check(); err != nil {
			return out, "spec.compression", err.Error()
		}
		out.compression = rc
	}
	for i, o := range spec.ResponseOverride {
		ro := router.ResponseOverride{Body: o.Response.Body}
		for _, c := range o.Match.StatusCodes {
			ro.Codes = append(ro.Codes, int(c))
		}
		for _, c := range o.Match.StatusClasses {
			if len(c) != 3 || c[0] < '2' || c[0] > '5' || c[1:] != "xx" {
				return out, fmt.Sprintf("spec.responseOverride[%d].match.statusClasses", i), fmt.Sprintf("%q is not one of 2xx, 3xx, 4xx, 5xx", c)
			}
			ro.Classes = append(ro.Classes, int(c[0]-'0'))
		}
		if o.Response.StatusCode != nil {
			ro.StatusCode = int(*o.Response.StatusCode)
		}
		if o.Response.ContentType != nil {
			ro.ContentType = *o.Response.ContentType
		}
		if err := router.CheckResponseOverrides([]router.ResponseOverride{ro}); err != nil {
			return out, fmt.Sprintf("spec.responseOverride[%d]", i), strings.TrimPrefix(err.Error(), "[0]")
		}
		out.overrides = append(out.overrides, ro)
	}
	if s := spec.SessionPersistence; s != nil {
		rs, err := convertSession(s)
		if err != nil {
			return out, "spec.sessionPersistence", err.Error()
		}
		out.session = rs
	}
	return out, "", ""
}

func convertSession(s *portico.SessionPersistence) (*router.SessionPersistence, error) {
	out := &router.SessionPersistence{ChangeOnFailure: s.ChangeOnFailure}
	if s.Mode != nil {
		out.Mode = router.SessionMode(*s.Mode)
	}
	name := ""
	if s.SessionName != nil {
		name = *s.SessionName
	}
	if s.Type != nil && *s.Type == "Header" {
		if name == "" {
			return nil, fmt.Errorf("type Header needs sessionName (the header)")
		}
		out.Header = name
	} else {
		c := &router.SessionCookie{Name: name, HTTPOnly: true}
		if k := s.Cookie; k != nil {
			c.Path, c.Domain, c.SameSite = deref(k.Path), deref(k.Domain), deref(k.SameSite)
			c.Secure = k.Secure
			c.MaxAge = duration(k.MaxAge)
			if k.HTTPOnly != nil {
				c.HTTPOnly = *k.HTTPOnly
			}
		}
		out.Cookie = c
	}
	if err := out.Check(); err != nil {
		return nil, err
	}
	return out, nil
}

// ruleSession converts an HTTPRoute rule's sessionPersistence: a cookie
// (the session's lifetime: permanent cookies get absoluteTimeout as
// Max-Age) or a header, in Persistent mode.
func ruleSession(s *gatewayv1.SessionPersistence) (*router.SessionPersistence, error) {
	if s == nil {
		return nil, nil
	}
	name := ""
	if s.SessionName != nil {
		name = *s.SessionName
	}
	out := &router.SessionPersistence{}
	if s.Type != nil && *s.Type == gatewayv1.HeaderBasedSessionPersistence {
		out.Header = cmp.Or(name, "Portico-Session")
	} else {
		c := &router.SessionCookie{Name: name, HTTPOnly: true}
		if s.CookieConfig != nil && s.CookieConfig.LifetimeType != nil && *s.CookieConfig.LifetimeType == gatewayv1.PermanentCookieLifetimeType {
			if s.AbsoluteTimeout == nil {
				return nil, fmt.Errorf("cookieConfig.lifetimeType Permanent needs absoluteTimeout")
			}
			d, err := time.ParseDuration(string(*s.AbsoluteTimeout))
			if err != nil || d <= 0 {
				return nil, fmt.Errorf("absoluteTimeout %q is not a positive duration", *s.AbsoluteTimeout)
			}
			c.MaxAge = d
		}
		out.Cookie = c
	}
	if err := out.Check(); err != nil {
		return nil, err
	}
	return out, nil
}

// applyShaping sets a TrafficPolicy's answer shaping on a route, where the
// route's own object set none (an HTTPRoute rule's sessionPersistence, the
// ingress-nginx annotations: more specific than any policy).
func applyShaping(r *router.Route, part *policyPart) {
	if part == nil || part.failed() {
		return
	}
	s := part.shaping
	if r.Compression == nil {
		r.Compression = s.compression
	}
	if len(r.ResponseOverrides) == 0 {
		r.ResponseOverrides = s.overrides
	}
	if r.Session == nil {
		r.Session = s.session
	}
}
