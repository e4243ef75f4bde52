package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"

	"github.com/portico-dev/portico/router"
)

// pathChanges lists the paths of an Ingress that Portico matches otherwise
// than ingress-nginx did: regex locations that lost their case-insensitive
// prefix matching, and ImplementationSpecific paths, which nginx matched as
// plain string prefixes.
func pathChanges(ing *networkingv1.Ingress, regex map[string]string, routes map[[4]any]*router.Route) []pathReport {
	var out []pathReport
	for ri, rule := range ing.Spec.Rules {
		if rule.HTTP == nil {
			continue
		}
		for pi, p := range rule.HTTP.Paths {
			r := routes[[4]any{ing.Namespace, ing.Name, ri, pi}]
			if r == nil {
				continue // not served: a problem says why
			}
			pt := networkingv1.PathTypeImplementationSpecific
			if p.PathType != nil {
				pt = *p.PathType
			}
			pr := pathReport{Host: rule.Host, Path: p.Path, PathType: string(pt)}
			why, isRegex := regex[rule.Host]
			switch {
			case isRegex && pt != networkingv1.PathTypeExact:
				if r.PathMatch == router.PathRegularExpression && strings.HasPrefix(r.Path, "(?i)") {
					continue
				}
				pr.Change = fmt.Sprintf("ingress-nginx matched it as a case-insensitive regular expression anchored at the start (^%s; %s applies to every path of the host); Portico matches it %s",
					p.Path, why, matchOf(r))
			case pt == networkingv1.PathTypeImplementationSpecific && r.PathMatch == router.PathPrefix &&
				strings.TrimSuffix(p.Path, "/") != "" && !strings.HasSuffix(p.Path, "/"):
				pr.Change = fmt.Sprintf("ingress-nginx matched it as a plain string prefix (%s also matched %sx); Portico matches whole path segments (%s and %s/...)",
					p.Path, p.Path, p.Path, p.Path)
			default:
				continue
			}
			out = append(out, pr)
		}
	}
	return out
}

func matchOf(r *router.Route) string {
	switch r.PathMatch {
	case router.PathExact:
		return "exactly, case-sensitively"
	case router.PathRegularExpression:
		return fmt.Sprintf("as the case-sensitive regular expression %q over the whole path", r.Path)
	}
	return "as a path prefix of whole segments, case-sensitively"
}

func (rep *migrateReport) summarise() {
	s := &rep.Summary
	s.Ingresses = len(rep.Ingresses)
	for _, ir := range rep.Ingresses {
		if ir.Refused != "" {
			s.Refused++
		}
		s.Problems += len(ir.Problems)
		s.Paths += len(ir.Paths)
		for _, a := range ir.Annotations {
			s.Problems += len(a.Problems)
			switch a.Status {
			case statusSupported:
				s.Supported++
			case statusDifferent:
				s.Different++
			case statusRefused:
				s.RefusedAnn++
			default:
				s.Unsupported++
			}
		}
	}
	for _, k := range rep.ConfigMap.Keys {
		if k.Status != statusSupported || k.Problem != "" {
			s.ConfigKeys++
		}
	}
	s.Changes = s.Refused + s.Problems + s.Paths + s.Different + s.Unsupported + s.RefusedAnn + s.ConfigKeys
}

func (rep *migrateReport) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

func (rep *migrateReport) writeText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "portico migrate ingress-nginx (%s)\n\n", rep.Source)
	if !rep.ConfigMap.Found {
		fmt.Fprintf(&b, "ConfigMap %s: not found, ingress-nginx's defaults apply\n", rep.ConfigMap.Name)
	} else {
		fmt.Fprintf(&b, "ConfigMap %s:\n", rep.ConfigMap.Name)
		for _, k := range rep.ConfigMap.Keys {
			fmt.Fprintf(&b, "  %-13s %s: %s%s\n", k.Status, k.Name, quote(k.Value), note(k.Note))
			if k.Problem != "" {
				fmt.Fprintf(&b, "                error: %s\n", k.Problem)
			}
		}
	}
	for _, ir := range rep.Ingresses {
		fmt.Fprintf(&b, "\nIngress %s/%s\n", ir.Namespace, ir.Name)
		if ir.Refused != "" {
			fmt.Fprintf(&b, "  REFUSED: %s\n", ir.Refused)
		}
		for _, a := range ir.Annotations {
			fmt.Fprintf(&b, "  %-13s %s: %s%s\n", a.Status, a.Name, quote(a.Value), note(a.Note))
			for _, p := range a.Problems {
				fmt.Fprintf(&b, "                %s\n", p)
			}
			for _, f := range a.Snippet {
				fmt.Fprintf(&b, "                `%s`: %s", f.Directive, f.Did)
				if f.Use != "" {
					fmt.Fprintf(&b, "; use %s", f.Use)
				}
				b.WriteByte('\n')
			}
		}
		for _, p := range ir.Paths {
			fmt.Fprintf(&b, "  path          %s %s (%s): %s\n", orAny(p.Host), p.Path, p.PathType, p.Change)
		}
		for _, p := range ir.Problems {
			fmt.Fprintf(&b, "  problem       %s\n", p)
		}
		if ir.Refused == "" && len(ir.Annotations)+len(ir.Paths)+len(ir.Problems) == 0 {
			b.WriteString("  (no ingress-nginx annotations; served the same)\n")
		}
	}
	s := rep.Summary
	fmt.Fprintf(&b, "\nSummary: %d Ingresses of ingress-nginx's class (%d refused); annotations: %d supported, %d with a difference, %d unsupported, %d refused; %d problems; %d path matching changes; %d ConfigMap keys not honoured as set\n",
		s.Ingresses, s.Refused, s.Supported, s.Different, s.Unsupported, s.RefusedAnn, s.Problems, s.Paths, s.ConfigKeys)
	if s.Changes > 0 {
		b.WriteString("Behaviour would change: review the entries above before switching traffic.\n")
	} else {
		b.WriteString("Nothing would change behaviour.\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// quote prints a value on one line, shortened when long (snippets).
func quote(v string) string {
	v = strings.Join(strings.Fields(v), " ")
	if len(v) > 72 {
		v = v[:69] + "..."
	}
	return fmt.Sprintf("%q", v)
}

func note(n string) string {
	if n == "" {
		return ""
	}
	return " — " + n
}

func orAny(h string) string {
	if h == "" {
		return "*"
	}
	return h
}
