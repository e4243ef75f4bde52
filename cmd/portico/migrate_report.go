package main

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"

	"github.com/portico-dev/portico/controllers/translate"
	"github.com/portico-dev/portico/router"
)

// Statuses of an annotation or ConfigMap key in the report.
const (
	statusSupported   = "supported"
	statusDifferent   = "different"
	statusUnsupported = "unsupported"
	statusRefused     = "refused"
	statusUnknown     = "unknown"
)

// migrateReport is what `portico migrate ingress-nginx` prints.
type migrateReport struct {
	Source    string          `json:"source"`
	ConfigMap configMapReport `json:"configMap"`
	Ingresses []ingressReport `json:"ingresses"`
	Summary   migrateSummary  `json:"summary"`
}

type configMapReport struct {
	Name  string      `json:"name"`
	Found bool        `json:"found"`
	Keys  []keyReport `json:"keys,omitempty"`
}

type keyReport struct {
	Name    string `json:"name"`
	Value   string `json:"value"`
	Status  string `json:"status"`
	Note    string `json:"note,omitempty"`
	Problem string `json:"problem,omitempty"`
}

type ingressReport struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Refused, when set, is why Portico would not serve the Ingress.
	Refused     string             `json:"refused,omitempty"`
	Annotations []annotationReport `json:"annotations,omitempty"`
	Paths       []pathReport       `json:"paths,omitempty"`
	// Problems are the translation's problems not tied to an annotation.
	Problems []string `json:"problems,omitempty"`
}

type annotationReport struct {
	Name     string           `json:"name"`
	Value    string           `json:"value"`
	Status   string           `json:"status"`
	Note     string           `json:"note,omitempty"`
	Problems []string         `json:"problems,omitempty"`
	Snippet  []snippetFinding `json:"snippet,omitempty"`
}

type pathReport struct {
	Host     string `json:"host"`
	Path     string `json:"path"`
	PathType string `json:"pathType"`
	Change   string `json:"change"`
}

// migrateSummary counts; Changes is what makes the exit code 1.
type migrateSummary struct {
	Ingresses   int `json:"ingresses"`
	Refused     int `json:"refusedIngresses"`
	Supported   int `json:"supported"`
	Different   int `json:"different"`
	Unsupported int `json:"unsupported"`
	RefusedAnn  int `json:"refused"`
	Problems    int `json:"problems"`
	Paths       int `json:"pathChanges"`
	ConfigKeys  int `json:"configMapChanges"`
	Changes     int `json:"changes"`
}

// buildMigrateReport translates the snapshot as Portico would with
// --ingress-nginx-compat and the ConfigMap, and reports each Ingress of
// ingress-nginx's class.
func buildMigrateReport(snap *translate.Snapshot, cm map[string]string, found bool, cmRef string) *migrateReport {
	opts := translate.Options{ControllerName: "portico.dev/ingress-controller", IngressClass: "portico",
		Nginx: &translate.NginxOptions{ConfigMap: cm}}
	res := translate.Translate(snap, opts)
	rep := &migrateReport{ConfigMap: configMapReport{Name: cmRef, Found: found}}
	rep.ConfigMap.Keys = configKeys(cm)
	problems := map[translate.ObjectRef][]translate.Problem{}
	for _, p := range res.Problems {
		problems[p.Object] = append(problems[p.Object], p)
	}
	routes := map[[4]any]*router.Route{}
	for i := range res.Config.Routes {
		r := &res.Config.Routes[i]
		k := [4]any{r.Source.Namespace, r.Source.Name, r.Source.Rule, r.Source.Path}
		if r.Source.Kind == "Ingress" && (routes[k] == nil || len(routes[k].Headers) > len(r.Headers)) {
			routes[k] = r
		}
	}
	var ings []*networkingv1.Ingress
	for i := range snap.Ingresses {
		if translate.IsNginxIngress(&snap.Ingresses[i], snap.IngressClasses, opts) {
			ings = append(ings, &snap.Ingresses[i])
		}
	}
	slices.SortFunc(ings, func(a, b *networkingv1.Ingress) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	regexHosts := regexHosts(ings)
	for _, ing := range ings {
		ref := translate.ObjectRef{Kind: "Ingress", Namespace: ing.Namespace, Name: ing.Name}
		ir := ingressReport{Namespace: ing.Namespace, Name: ing.Name}
		ir.Annotations, ir.Problems, ir.Refused = annotations(ing, problems[ref])
		if ir.Refused == "" {
			ir.Paths = pathChanges(ing, regexHosts, routes)
		}
		rep.Ingresses = append(rep.Ingresses, ir)
	}
	rep.summarise()
	return rep
}

// configKeys reports every key of the ConfigMap.
func configKeys(cm map[string]string) []keyReport {
	findings := map[string]string{}
	for _, p := range translate.NginxConfigFindings(cm) {
		if p.Reason == "InvalidConfigValue" {
			findings[strings.TrimSuffix(strings.TrimPrefix(p.Field, "data["), "]")] = p.Message
		}
	}
	var out []keyReport
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range cm {
			if !yield(k) {
				return
			}
		}
	}) {
		kr := keyReport{Name: name, Value: cm[name], Status: statusUnknown, Note: "not known to Portico; ignored", Problem: findings[name]}
		if k, ok := translate.LookupNginxConfigKey(name); ok {
			kr.Status, kr.Note = supportStatus(k.Support), k.Note
			if k.Default != "" && strings.TrimSpace(kr.Value) == k.Default {
				kr.Status, kr.Note = statusSupported, "ingress-nginx's default"
			}
		}
		out = append(out, kr)
	}
	return out
}

func supportStatus(s translate.NginxSupport) string {
	switch s {
	case translate.NginxSupported:
		return statusSupported
	case translate.NginxDifferent:
		return statusDifferent
	case translate.NginxRefused:
		return statusRefused
	}
	return statusUnsupported
}

// annotations reports each ingress-nginx annotation of an Ingress with
// its registry entry and the translation problems naming it; the other
// problems are returned apart, and the refusal when there is one.
func annotations(ing *networkingv1.Ingress, problems []translate.Problem) ([]annotationReport, []string, string) {
	byField := map[string][]string{}
	var other []string
	refused := ""
	for _, p := range problems {
		switch {
		case p.Reason == "AnnotationRefused":
			refused = p.Message
		case p.Reason == "UnsupportedAnnotation" && strings.HasPrefix(p.Field, "metadata.annotations["+translate.NginxAnnotationPrefix):
			// the annotation's status says it
		case strings.HasPrefix(p.Field, "metadata.annotations["+translate.NginxAnnotationPrefix):
			byField[p.Field] = append(byField[p.Field], fmt.Sprintf("%s: %s", p.Severity, p.Message))
		default:
			other = append(other, fmt.Sprintf("%s %s: %s", p.Severity, p.Field, p.Message))
		}
	}
	var out []annotationReport
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range ing.Annotations {
			if strings.HasPrefix(k, translate.NginxAnnotationPrefix) && !yield(k) {
				return
			}
		}
	}) {
		name := strings.TrimPrefix(k, translate.NginxAnnotationPrefix)
		ar := annotationReport{Name: name, Value: ing.Annotations[k], Status: statusUnknown,
			Note: "not known to Portico; ignored", Problems: byField["metadata.annotations["+k+"]"]}
		if a, ok := translate.LookupNginxAnnotation(name); ok {
			ar.Status, ar.Note = supportStatus(a.Support), a.Note
		}
		if strings.HasSuffix(name, "-snippet") || name == "configuration-snippet" {
			ar.Snippet = recogniseSnippet(ar.Value)
			if ar.Status == statusUnknown {
				ar.Note = "raw nginx configuration is never executed; ignored"
			}
		}
		out = append(out, ar)
	}
	return out, other, refused
}

// regexHosts are the hosts whose paths ingress-nginx matches as regular
// expressions: use-regex or rewrite-target on any Ingress of the host
// makes every path of the host, across Ingresses, a regex location.
func regexHosts(ings []*networkingv1.Ingress) map[string]string {
	out := map[string]string{}
	for _, ing := range ings {
		why := ""
		switch {
		case ing.Annotations[translate.NginxAnnotationPrefix+"use-regex"] == "true":
			why = "use-regex on " + ing.Namespace + "/" + ing.Name
		case ing.Annotations[translate.NginxAnnotationPrefix+"rewrite-target"] != "":
			why = "rewrite-target on " + ing.Namespace + "/" + ing.Name
		default:
			continue
		}
		for _, r := range ing.Spec.Rules {
			if _, done := out[r.Host]; !done {
				out[r.Host] = why
			}
		}
	}
	return out
}
