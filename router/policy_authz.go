package router

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
)

// authzStep applies allow/deny rules, the first match deciding.
type authzStep struct {
	rules []AuthzRule
	def   AuthzAction
}

func compileAuthorization(a *Authorization) (*authzStep, error) {
	for i, r := range a.Rules {
		for j, p := range r.ClientCIDRs {
			if !p.IsValid() {
				return nil, fmt.Errorf("authorization.rules[%d].clientCIDRs[%d]: invalid prefix", i, j)
			}
		}
		for j, p := range r.Paths {
			if !strings.HasPrefix(p.Path, "/") {
				return nil, fmt.Errorf("authorization.rules[%d].paths[%d]: %q does not start with /", i, j, p.Path)
			}
		}
		for j, c := range r.Claims {
			if c.Name == "" {
				return nil, fmt.Errorf("authorization.rules[%d].claims[%d].name: required", i, j)
			}
		}
		if r.Action > AuthzAllow {
			return nil, fmt.Errorf("authorization.rules[%d].action: unknown", i)
		}
	}
	rules := slices.Clone(a.Rules)
	for i := range rules {
		cidrs := make([]netip.Prefix, len(rules[i].ClientCIDRs))
		for j, p := range rules[i].ClientCIDRs {
			cidrs[j] = p.Masked()
		}
		rules[i].ClientCIDRs = cidrs
	}
	return &authzStep{rules: rules, def: a.Default}, nil
}

func (s *authzStep) check(_ context.Context, x *Exchange, _ Headers, ps *policyState) (int, string) {
	action := s.def
	for i := range s.rules {
		if r := &s.rules[i]; r.matches(x, ps) {
			action = r.Action
			break
		}
	}
	if action == AuthzAllow {
		return 0, ""
	}
	return http.StatusForbidden, "access denied"
}

func (r *AuthzRule) matches(x *Exchange, ps *policyState) bool {
	if len(r.ClientCIDRs) > 0 && (!ps.client.IsValid() || !inPrefixes(r.ClientCIDRs, ps.client)) {
		return false
	}
	if len(r.Methods) > 0 && !slices.Contains(r.Methods, x.Method) {
		return false
	}
	if len(r.Paths) > 0 {
		hit := false
		for _, p := range r.Paths {
			if p.matches(x.Path) {
				hit = true
				break
			}
		}
		if !hit {
			return false
		}
	}
	for _, c := range r.Claims {
		if ps.jwt == nil || !claimMatches(ps.jwt.claims, c) {
			return false
		}
	}
	return true
}

// matches compares with the canonical decoded path; a prefix matches
// whole elements (/api matches /api and /api/x, not /apix).
func (p AuthzPath) matches(path string) bool {
	if !p.Prefix {
		return path == p.Path
	}
	prefix := strings.TrimSuffix(p.Path, "/")
	if prefix == "" {
		return true
	}
	return path == prefix || strings.HasPrefix(path, prefix) && path[len(prefix)] == '/'
}
