package router

import (
	"errors"
	"fmt"
)

// ResponseOverride replaces the body of a route's responses by status:
// those from its backends and Portico's own answers for the route (policy
// refusals, 500 for an invalid backend, 502/503/504 when no backend
// answers). A response matches a rule naming its code before a rule naming
// its class; among those, the first rule wins. The response keeps its
// other headers; its Content-Type, Content-Length and the headers that
// describe the replaced body (Content-Encoding, Content-Range, ETag,
// Last-Modified, Accept-Ranges, Content-Disposition) are replaced or
// dropped. Answers sent before a route is found (404 for no route, 400 for
// a malformed request) are never overridden, and neither are 1xx.
//
// The ingress-nginx custom-http-errors variant, answering from another
// backend with X-Code, X-Format, X-Original-URI and the other headers that
// protocol sends, is its sibling ErrorPages: it needs the proxy. An answer
// ErrorPages replaced is then subject to the overrides, by its new status.
type ResponseOverride struct {
	// Codes are statuses (404, 502), 200 to 599.
	Codes []int `json:"codes,omitempty"`
	// Classes are status classes by their first digit: 4 for 4xx, 5 for
	// 5xx (2 to 5).
	Classes []int `json:"classes,omitempty"`
	// StatusCode, when set, replaces the status (200 to 599).
	StatusCode int `json:"statusCode,omitempty"`
	// ContentType defaults to "text/plain; charset=utf-8".
	ContentType string `json:"contentType,omitempty"`
	// Body is sent as it is.
	Body string `json:"body"`
}

// CheckResponseOverrides reports what makes a route's overrides unusable,
// with the index of the rule at fault.
func CheckResponseOverrides(rules []ResponseOverride) error {
	var errs []error
	for i, o := range rules {
		if len(o.Codes) == 0 && len(o.Classes) == 0 {
			errs = append(errs, fmt.Errorf("[%d]: name at least one code or class", i))
		}
		for j, c := range o.Codes {
			if c < 200 || c > 599 {
				errs = append(errs, fmt.Errorf("[%d].codes[%d]: %d is not a status of 200 to 599", i, j, c))
			}
		}
		for j, c := range o.Classes {
			if c < 2 || c > 5 {
				errs = append(errs, fmt.Errorf("[%d].classes[%d]: %d is not a class of 2 to 5 (2xx to 5xx)", i, j, c))
			}
		}
		if o.StatusCode != 0 && (o.StatusCode < 200 || o.StatusCode > 599) {
			errs = append(errs, fmt.Errorf("[%d].statusCode: %d is not a status of 200 to 599", i, o.StatusCode))
		}
	}
	return errors.Join(errs...)
}

// responseShape is what a route changes in its responses' bodies, compiled:
// compression and overrides. A route without either has none (nil).
type responseShape struct {
	comp      *compiledCompression
	overrides []ResponseOverride
}

// compileShape builds a route's responseShape (nil when it needs none).
func compileShape(r *Route) (*responseShape, error) {
	if r.Compression == nil && len(r.ResponseOverrides) == 0 {
		return nil, nil
	}
	s := &responseShape{overrides: r.ResponseOverrides}
	if err := CheckResponseOverrides(r.ResponseOverrides); err != nil {
		return nil, fmt.Errorf("responseOverrides%w", err)
	}
	if r.Compression != nil {
		c, err := r.Compression.compile()
		if err != nil {
			return nil, fmt.Errorf("compression: %w", err)
		}
		s.comp = c
	}
	return s, nil
}

// override returns the rule replacing a response of status code, or nil.
func (s *responseShape) override(code int) *ResponseOverride {
	if s == nil || len(s.overrides) == 0 || code < 200 {
		return nil
	}
	for i := range s.overrides {
		for _, c := range s.overrides[i].Codes {
			if c == code {
				return &s.overrides[i]
			}
		}
	}
	for i := range s.overrides {
		for _, c := range s.overrides[i].Classes {
			if c == code/100 {
				return &s.overrides[i]
			}
		}
	}
	return nil
}

// status is the status the override answers with, given the original.
func (o *ResponseOverride) status(code int) int {
	if o.StatusCode != 0 {
		return o.StatusCode
	}
	return code
}

func (o *ResponseOverride) contentType() string {
	if o.ContentType != "" {
		return o.ContentType
	}
	return "text/plain; charset=utf-8"
}

// replacedHeaders describe a body an override replaces.
var replacedHeaders = []string{"Content-Length", "Content-Encoding", "Content-Range", "Etag", "Last-Modified",
	"Accept-Ranges", "Content-Disposition"}

// overrideHeaders sets the head of a response whose body o replaces.
func (o *ResponseOverride) overrideHeaders(h Headers) {
	for _, k := range replacedHeaders {
		h.Del(k)
	}
	h.Set("Content-Type", o.contentType())
}
