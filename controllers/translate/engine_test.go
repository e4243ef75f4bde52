package translate_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/portico-dev/portico/controllers/translate"
	"github.com/portico-dev/portico/router"
)

// world is the property test's own copy of the objects: the reference
// snapshot is built from it, never from the Engine.
type world struct {
	rng     *rand.Rand
	rv      int
	objects map[string]any // "Kind/ns/name"
	secrets []corev1.Secret
	// nginx adds Ingresses of the ingress-nginx class with its
	// annotations, and that class.
	nginx bool
	// others, when set, are Gateway API objects beside the Ingresses (the
	// Engine translates whole while they are there).
	others *translate.Snapshot
}

var (
	propNamespaces = []string{"a", "b"}
	propHosts      = []string{"h0.example.com", "h1.example.com", "*.w.example.com", "", "H1.example.com"}
	propPaths      = []string{"/", "/api", "/api/", "/x", "x", "/a/../b"}
	propTimes      = []metav1.Time{metav1.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), metav1.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC),
		metav1.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC)}
)

func (w *world) pick(n int) int { return w.rng.IntN(n) }

func (w *world) meta(ns, name string) metav1.ObjectMeta {
	w.rv++
	return metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID("uid-" + ns + "-" + name),
		ResourceVersion: strconv.Itoa(w.rv), CreationTimestamp: propTimes[w.pick(len(propTimes))]}
}

func (w *world) backend() networkingv1.IngressBackend {
	port := networkingv1.ServiceBackendPort{Number: 80}
	switch w.pick(6) {
	case 0:
		port = networkingv1.ServiceBackendPort{Name: "http"}
	case 1:
		port = networkingv1.ServiceBackendPort{Number: 81}
	}
	if w.pick(20) == 0 {
		return networkingv1.IngressBackend{Resource: &corev1.TypedLocalObjectReference{Kind: "Bucket", Name: "b"}}
	}
	return networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: fmt.Sprintf("svc%d", w.pick(4)), Port: port}}
}

func (w *world) ingress(ns, name string) *networkingv1.Ingress {
	ing := &networkingv1.Ingress{ObjectMeta: w.meta(ns, name)}
	switch w.pick(8) {
	case 0:
		ing.Spec.IngressClassName = ptr.To("other")
	case 1:
		ing.Annotations = map[string]string{translate.AnnotationIngressClass: "portico"}
	case 2:
	default:
		ing.Spec.IngressClassName = ptr.To("portico")
	}
	ann := func(k, v string) {
		if ing.Annotations == nil {
			ing.Annotations = map[string]string{}
		}
		ing.Annotations[k] = v
	}
	switch w.pick(12) {
	case 0:
		ann(translate.AnnotationSSLRedirect, "false")
	case 1:
		ann(translate.AnnotationHSTS, "true")
	case 2:
		ann("portico.dev/typo", "x")
	case 3:
		ann("nginx.ingress.kubernetes.io/rewrite-target", "/")
	case 4:
		ann(translate.AnnotationSSLPassthrough, "true")
	case 5:
		ann(translate.AnnotationClientCASecret, "client-ca")
	case 6:
		ann(translate.AnnotationHSTS, "soon")
	}
	if w.pick(4) == 0 {
		b := w.backend()
		ing.Spec.DefaultBackend = &b
	}
	hosts, paths := propHosts, propPaths
	if w.nginx {
		hosts, paths = append(hosts, propNginxHosts...), append(paths, propNginxPaths...)
		w.nginxIngress(ing)
	}
	for range 1 + w.pick(2) {
		rule := networkingv1.IngressRule{Host: hosts[w.pick(len(hosts))]}
		if w.pick(10) > 0 {
			rule.HTTP = &networkingv1.HTTPIngressRuleValue{}
			for range 1 + w.pick(3) {
				p := networkingv1.HTTPIngressPath{Path: paths[w.pick(len(paths))], Backend: w.backend()}
				switch w.pick(4) {
				case 0:
					p.PathType = ptr.To(networkingv1.PathTypeExact)
				case 1:
					p.PathType = ptr.To(networkingv1.PathTypeImplementationSpecific)
				default:
					p.PathType = ptr.To(networkingv1.PathTypePrefix)
				}
				rule.HTTP.Paths = append(rule.HTTP.Paths, p)
			}
		}
		ing.Spec.Rules = append(ing.Spec.Rules, rule)
	}
	for range w.pick(3) {
		t := networkingv1.IngressTLS{SecretName: fmt.Sprintf("tls%d", w.pick(4))}
		if w.pick(5) == 0 {
			t.SecretName = ""
		}
		if w.pick(2) == 0 {
			t.Hosts = []string{propHosts[w.pick(3)]}
		}
		ing.Spec.TLS = append(ing.Spec.TLS, t)
	}
	return ing
}

func (w *world) service(ns, name string) *corev1.Service {
	svc := &corev1.Service{ObjectMeta: w.meta(ns, name)}
	svc.Spec.Ports = []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt(8080)}}
	switch w.pick(8) {
	case 0:
		svc.Spec.Type = corev1.ServiceTypeExternalName
	case 1:
		svc.Spec.Ports[0].AppProtocol = ptr.To(translate.AppProtocolH2C)
	case 2:
		svc.Spec.Ports[0].Port = 81
	}
	if w.nginx && w.pick(2) == 0 {
		svc.Spec.ClusterIP = "10.96.0.1"
	}
	return svc
}

func (w *world) slice(ns, name string) *discoveryv1.EndpointSlice {
	es := &discoveryv1.EndpointSlice{ObjectMeta: w.meta(ns, name), AddressType: discoveryv1.AddressTypeIPv4,
		Ports: []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080)}}}
	es.Labels = map[string]string{discoveryv1.LabelServiceName: strings.Split(name, "-")[0]}
	for i := range w.pick(3) {
		ep := discoveryv1.Endpoint{Addresses: []string{fmt.Sprintf("10.0.%d.%d", w.pick(4), i)}}
		if w.pick(3) == 0 {
			ep.Conditions.Ready = ptr.To(false)
		}
		es.Endpoints = append(es.Endpoints, ep)
	}
	return es
}

func (w *world) secret(ns, name string) *corev1.Secret {
	s := w.secrets[w.pick(len(w.secrets))].DeepCopy()
	s.ObjectMeta = w.meta(ns, name)
	return s
}

func (w *world) class(name string) *networkingv1.IngressClass {
	c := &networkingv1.IngressClass{ObjectMeta: w.meta("", name)}
	c.Spec.Controller = "portico.dev/ingress-controller"
	if name == "nginx" {
		c.Spec.Controller = translate.NginxControllerName
	}
	if w.pick(3) == 0 {
		c.Spec.Controller = "example.com/other"
	}
	if w.pick(3) == 0 {
		c.Annotations = map[string]string{translate.AnnotationDefaultClass: "true"}
	}
	return c
}

// step makes one random change, applies it to the Engine and returns a
// description.
func (w *world) step(e *translate.Engine) string {
	ns := propNamespaces[w.pick(len(propNamespaces))]
	var kind, name string
	var make func() any
	switch r := w.pick(100); {
	case r < 35:
		kind, name = "Ingress", fmt.Sprintf("ing%d", w.pick(8))
		make = func() any { return w.ingress(ns, name) }
	case r < 50:
		kind, name = "Service", fmt.Sprintf("svc%d", w.pick(4))
		make = func() any { return w.service(ns, name) }
	case r < 75:
		kind, name = "EndpointSlice", fmt.Sprintf("svc%d-%d", w.pick(4), w.pick(2))
		make = func() any { return w.slice(ns, name) }
	case r < 92:
		kind, name = "Secret", fmt.Sprintf("tls%d", w.pick(4))
		if w.pick(4) == 0 {
			name = "client-ca"
		}
		make = func() any { return w.secret(ns, name) }
	default:
		classes := []string{"portico", "other"}
		if w.nginx {
			classes = append(classes, "nginx")
		}
		kind, name, ns = "IngressClass", classes[w.pick(len(classes))], ""
		make = func() any { return w.class(name) }
	}
	key := kind + "/" + ns + "/" + name
	if _, ok := w.objects[key]; ok && w.pick(4) == 0 {
		delete(w.objects, key)
		if e != nil {
			e.Delete(kind, ns, name)
		}
		return "delete " + key
	}
	o := make()
	w.objects[key] = o
	if e != nil {
		e.Set(o)
	}
	return "set " + key
}

// snapshot is the reference input: every object, sorted by kind and name.
func (w *world) snapshot() *translate.Snapshot {
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range w.objects {
			if !yield(k) {
				return
			}
		}
	})
	s := &translate.Snapshot{}
	if w.others != nil {
		*s = *w.others
	}
	for _, k := range keys {
		switch o := w.objects[k].(type) {
		case *networkingv1.IngressClass:
			s.IngressClasses = append(s.IngressClasses, *o)
		case *networkingv1.Ingress:
			s.Ingresses = append(s.Ingresses, *o)
		case *corev1.Service:
			s.Services = append(s.Services, *o)
		case *discoveryv1.EndpointSlice:
			s.EndpointSlices = append(s.EndpointSlices, *o)
		case *corev1.Secret:
			s.Secrets = append(s.Secrets, *o)
		}
	}
	return s
}

// describeTable renders what a Table serves, in an order independent of how
// it was built (Patch lists patched routes last).
func describeTable(t *router.Table) string {
	var lines []string
	backends := func(wbs []router.WeightedBackend) string {
		var out []string
		for _, wb := range wbs {
			if wb.Backend == nil {
				out = append(out, "nil")
				continue
			}
			b, _ := json.Marshal(wb)
			out = append(out, string(b))
		}
		return strings.Join(out, ",")
	}
	for _, r := range t.Routes() {
		b, _ := json.Marshal(r.Route)
		lines = append(lines, "route "+string(b))
	}
	for _, r := range t.L4Routes() {
		lines = append(lines, fmt.Sprintf("l4 %s %s %v %s %s", r.Listener, r.Host, r.HostMatch, r.Source, backends(r.Backends)))
	}
	for _, d := range t.Dropped() {
		lines = append(lines, fmt.Sprintf("drop %+v", d))
	}
	if d := t.Default(); d != nil {
		b, _ := json.Marshal(d.Route)
		lines = append(lines, "default "+string(b))
	}
	slices.Sort(lines)
	for _, h := range []string{"h0.example.com", "h1.example.com", "x.w.example.com", "other.example.com"} {
		for _, p := range []string{"/", "/api", "/api/x", "/x", "/b"} {
			got := "nil"
			if r := t.Lookup(h, p, nil); r != nil {
				got = r.Source.String()
			}
			lines = append(lines, "lookup "+h+p+" "+got)
		}
	}
	return strings.Join(lines, "\n")
}

func marshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func problemsByObject(ps []translate.Problem) map[translate.ObjectRef][]translate.Problem {
	out := map[translate.ObjectRef][]translate.Problem{}
	for _, p := range ps {
		out[p.Object] = append(out[p.Object], p)
	}
	return out
}

var (
	propNginxHosts = []string{"www.h0.example.com", "h0.example.com"}
	propNginxPaths = []string{"/api/(.*)", "/(", "/API", "/api"}
	// propNginx are ingress-nginx annotations, with values, that the
	// property test draws from.
	propNginx = [][2]string{
		{"use-regex", "true"}, {"rewrite-target", "/$1"}, {"rewrite-target", "/"},
		{"canary", "true"}, {"canary", "true"}, {"canary-by-header", "X-Canary"}, {"canary-by-header-value", "yes"},
		{"canary-weight", "30"}, {"canary-weight", "100"}, {"canary-by-cookie", "c"},
		{"custom-http-errors", "404,503"}, {"custom-http-errors", "x"}, {"default-backend", "svc1"}, {"default-backend", "missing"},
		{"auth-type", "basic"}, {"auth-secret", "client-ca"}, {"limit-rps", "5"}, {"limit-connections", "x"},
		{"whitelist-source-range", "10.0.0.0/8"}, {"denylist-source-range", "bad"},
		{"from-to-www-redirect", "true"}, {"from-to-www-redirect", "true"},
		{"backend-protocol", "GRPC"}, {"backend-protocol", "HTTPS"}, {"proxy-ssl-secret", "tls1"},
		{"load-balance", "ewma"}, {"upstream-hash-by", "$request_uri"}, {"service-upstream", "true"},
		{"ssl-redirect", "false"}, {"force-ssl-redirect", "true"}, {"configuration-snippet", "more_set_headers x"},
		{"proxy-body-size", "2m"}, {"enable-cors", "true"}, {"unknown-thing", "1"},
	}
	propCanary = [][2]string{{"canary-by-header", "X-Canary"}, {"canary-by-header-value", "yes"}, {"canary-by-header-pattern", "^y"},
		{"canary-weight", "30"}, {"canary-by-cookie", "c"}, {"load-balance", "ewma"}}
)

// propSeeds is how many random sequences TestEngineEqualsTranslate runs
// per option set.
var propSeeds = flag.Uint64("prop-seeds", 16, "random sequences per option set in TestEngineEqualsTranslate")

// nginxIngress makes about half the Ingresses of the ingress-nginx class,
// with up to four of its annotations.
func (w *world) nginxIngress(ing *networkingv1.Ingress) {
	if w.pick(2) == 0 {
		return
	}
	if w.pick(4) == 0 {
		ing.Spec.IngressClassName = nil
		ing.Annotations = map[string]string{translate.AnnotationIngressClass: "nginx"}
	} else {
		ing.Spec.IngressClassName = ptr.To("nginx")
	}
	if ing.Annotations == nil {
		ing.Annotations = map[string]string{}
	}
	for range w.pick(5) {
		a := propNginx[w.pick(len(propNginx))]
		ing.Annotations[translate.NginxAnnotationPrefix+a[0]] = a[1]
	}
	if w.pick(4) == 0 {
		// A canary, with the rules that route to it.
		ing.Annotations[translate.NginxAnnotationPrefix+"canary"] = "true"
		for _, a := range propCanary {
			if w.pick(3) == 0 {
				ing.Annotations[translate.NginxAnnotationPrefix+a[0]] = a[1]
			}
		}
	}
}

// TestEngineEqualsTranslate applies random sequences of additions, updates
// and deletions to an Engine and checks after every step that its result,
// Table, certificates and per-object problems equal those of the full
// Translate (and Compile) of the same objects, and that every Ingress whose
// translation changed is reported as changed. The ingress-nginx option sets
// add Ingresses of that class with random annotations; Gateway API objects
// come and go (the Engine then translates whole, and incrementally again
// once they are gone).
func TestEngineEqualsTranslate(t *testing.T) {
	pool := loadSnapshot(t, "testdata/tls.in.yaml").Secrets
	gw := loadSnapshot(t, "testdata/gateway-http.in.yaml")
	gw.IngressClasses, gw.Ingresses, gw.Services, gw.EndpointSlices, gw.Secrets = nil, nil, nil, nil, nil
	optionSets := map[string]translate.Options{"plain": testOptions}
	withDefaults := testOptions
	withDefaults.DefaultBackend = "a/svc0:80"
	withDefaults.DefaultCertificate = "a/tls0"
	withDefaults.ACME = true
	optionSets["defaults"] = withDefaults
	nginx := testOptions
	nginx.Nginx = &translate.NginxOptions{}
	optionSets["nginx"] = nginx
	nginxErrors := withDefaults
	nginxErrors.Nginx = &translate.NginxOptions{ConfigMap: map[string]string{"custom-http-errors": "404,503", "ssl-redirect": "false"}}
	optionSets["nginx-errors"] = nginxErrors
	for name, opts := range optionSets {
		for seed := range *propSeeds {
			t.Run(fmt.Sprintf("%s/seed%d", name, seed), func(t *testing.T) {
				w := &world{rng: rand.New(rand.NewPCG(seed, 7)), objects: map[string]any{}, secrets: pool, nginx: opts.Nginx != nil}
				e := translate.NewEngine()
				var prev map[translate.ObjectRef][]translate.Problem
				var prevOwned map[translate.ObjectRef]bool
				var log []string
				for step := range 200 {
					if w.pick(10) == 0 {
						// A listing instead of events: Replace finds the
						// change (and that nothing else changed).
						log = append(log, w.step(nil)+" (by Replace)")
						e.Replace(w.snapshot())
					} else {
						log = append(log, w.step(e))
					}
					if w.pick(4) == 0 {
						// Changes that arrive together are one Update.
						log = append(log, w.step(e))
					}
					if w.pick(25) == 0 {
						// Gateway API objects come or go: whole
						// translations, then incremental ones again.
						if w.others == nil {
							w.others = gw
							e.SetOthers(gw)
						} else {
							w.others = nil
							e.SetOthers(&translate.Snapshot{})
						}
						log = append(log, fmt.Sprintf("Gateway API objects: %v", w.others != nil))
					}
					o := opts
					if w.pick(30) == 0 {
						o.Now = o.Now.AddDate(100, 0, 0) // every certificate expired
					}
					u := e.Update(o)
					want := translate.Translate(w.snapshot(), o)
					fail := func(what, got, exp string) {
						t.Helper()
						t.Fatalf("step %d (%s): %s differ\n%s\nchanges:\n%s", step, log[len(log)-1], what,
							firstDiff(got, exp), strings.Join(log, "\n"))
					}
					if got, exp := marshal(t, e.Result()), marshal(t, want); got != exp {
						fail("results", got, exp)
					}
					if got, exp := marshal(t, e.AllProblems()), marshal(t, want.Problems); got != exp {
						fail("problems", got, exp)
					}
					if got, exp := describeTable(u.Table), describeTable(router.Compile(want.Config)); got != exp {
						fail("tables", got, exp)
					}
					if got, exp := marshal(t, u.Serving.Certificates), marshal(t, want.Certificates); got != exp {
						fail("certificates", got, exp)
					}
					if got, exp := marshal(t, u.Serving.DefaultCertificate), marshal(t, want.DefaultCertificate); got != exp {
						fail("default certificates", got, exp)
					}
					byObj := problemsByObject(want.Problems)
					owned := map[translate.ObjectRef]bool{}
					for _, ref := range want.Ingresses {
						owned[ref] = true
					}
					changed := map[translate.ObjectRef]bool{}
					for _, ref := range u.Changed {
						changed[ref] = true
					}
					for k, o := range w.objects {
						ing, ok := o.(*networkingv1.Ingress)
						if !ok || w.others != nil {
							// Translated whole, the Result answers
							// per object (Problems and Owns do not).
							continue
						}
						ref := translate.ObjectRef{Kind: "Ingress", Namespace: ing.Namespace, Name: ing.Name}
						if got := e.Problems(ref); !reflect.DeepEqual(got, byObj[ref]) {
							fail("problems of "+k, marshal(t, got), marshal(t, byObj[ref]))
						}
						if e.Owns(ing.Namespace, ing.Name) != owned[ref] {
							fail("ownership of "+k, strconv.FormatBool(e.Owns(ing.Namespace, ing.Name)), strconv.FormatBool(owned[ref]))
						}
						if !u.Whole && !changed[ref] && (!reflect.DeepEqual(prev[ref], byObj[ref]) || prevOwned[ref] != owned[ref]) {
							fail("change report of "+k, fmt.Sprint(u.Changed), "changed")
						}
					}
					prev, prevOwned = byObj, owned
				}
			})
		}
	}
}

// TestEngineWholeOnly checks that Gateway API objects make the Engine
// translate whole, and that it goes back to incremental updates once they
// are gone.
func TestEngineWholeOnly(t *testing.T) {
	w := &world{rng: rand.New(rand.NewPCG(1, 1)), objects: map[string]any{}, secrets: loadSnapshot(t, "testdata/tls.in.yaml").Secrets}
	e := translate.NewEngine()
	for range 20 {
		w.step(e)
	}
	if u := e.Update(testOptions); !u.Whole {
		t.Fatal("first Update is not whole")
	}
	w.step(e)
	if u := e.Update(testOptions); u.Whole {
		t.Fatal("second Update is whole")
	}
	gw := loadSnapshot(t, "testdata/gateway-http.in.yaml")
	e.SetOthers(gw)
	u := e.Update(testOptions)
	if !u.Whole {
		t.Fatal("Update with Gateway API objects is not whole")
	}
	s, ws := *gw, w.snapshot()
	s.IngressClasses, s.Ingresses, s.Services, s.EndpointSlices, s.Secrets = ws.IngressClasses, ws.Ingresses, ws.Services, ws.EndpointSlices, ws.Secrets
	if got, exp := marshal(t, *u.Result), marshal(t, translate.Translate(&s, testOptions)); got != exp {
		t.Fatalf("whole result differs:\n%s\n---\n%s", got, exp)
	}
	e.SetOthers(&translate.Snapshot{Namespaces: []corev1.Namespace{{ObjectMeta: metav1.ObjectMeta{Name: "a"}}}})
	if u := e.Update(testOptions); !u.Whole {
		t.Fatal("first Update after the Gateway API objects left is not whole")
	}
	w.step(e)
	if u := e.Update(testOptions); u.Whole {
		t.Fatal("Update after the Gateway API objects left is whole")
	}
}

// TestEngineNginxIncremental: ingress-nginx Ingresses, with the
// ConfigMap's custom-http-errors (every route's error backend is the
// controller's default backend), are translated incrementally: an Ingress
// change re-translates that Ingress alone, and an endpoint change of the
// default backend re-translates none and serves the new endpoint in the
// error pages.
func TestEngineNginxIncremental(t *testing.T) {
	s := versioned(nginxSnapshot(50))
	opts := nginxOptions()
	e := translate.NewEngine()
	e.Replace(s)
	e.Update(opts)
	ing := s.Ingresses[3].DeepCopy()
	ing.ResourceVersion = "2"
	ing.Spec.Rules[0].HTTP.Paths = ing.Spec.Rules[0].HTTP.Paths[:1]
	e.Set(ing)
	u := e.Update(opts)
	if u.Whole || u.Retranslated != 1 {
		t.Fatalf("Ingress changed: whole %v, %d re-translated", u.Whole, u.Retranslated)
	}
	if got, exp := describeTable(u.Table), describeTable(router.Compile(translate.Translate(e.Snapshot(), opts).Config)); got != exp {
		t.Fatalf("tables differ: %s", firstDiff(got, exp))
	}
	es := s.EndpointSlices[0].DeepCopy() // app-0's: the default backend
	es.ResourceVersion = "2"
	es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{Addresses: []string{"10.99.0.1"}})
	e.Set(es)
	u = e.Update(opts)
	if u.Whole || u.Retranslated != 0 {
		t.Fatalf("default backend endpoint added: whole %v, %d re-translated", u.Whole, u.Retranslated)
	}
	r := u.Table.Lookup("app-5.example.com", "/", nil)
	if r == nil || r.ErrorPages == nil || len(r.ErrorPages.Backend.Endpoints) != 4 {
		t.Fatalf("route after the default backend's endpoint was added: %+v", r)
	}
	if got, exp := describeTable(u.Table), describeTable(router.Compile(translate.Translate(e.Snapshot(), opts).Config)); got != exp {
		t.Fatalf("tables differ: %s", firstDiff(got, exp))
	}
}

// TestEngineNginxHostScoped: what ingress-nginx Ingresses read of each
// other is host-wide, so a change re-translates, besides the changed
// Ingress, only the Ingresses of its hosts whose answers changed: use-regex
// on one Ingress makes the other Ingress of its host translate again (its
// paths become expressions), and nothing else.
func TestEngineNginxHostScoped(t *testing.T) {
	s := versioned(nginxSnapshot(50))
	for i := range s.Ingresses {
		delete(s.Ingresses[i].Annotations, translate.NginxAnnotationPrefix+"rewrite-target")
	}
	other := s.Ingresses[0].DeepCopy()
	other.Name = "app-0-other"
	other.Spec.Rules[0].HTTP.Paths = other.Spec.Rules[0].HTTP.Paths[:1]
	other.Spec.Rules[0].HTTP.Paths[0].Path = "/v2"
	s.Ingresses = append(s.Ingresses, *other)
	opts := nginxOptions()
	e := translate.NewEngine()
	e.Replace(s)
	e.Update(opts)
	ing := s.Ingresses[0].DeepCopy()
	ing.ResourceVersion = "2"
	ing.Annotations[translate.NginxAnnotationPrefix+"use-regex"] = "true"
	e.Set(ing)
	u := e.Update(opts)
	if u.Whole || u.Retranslated != 2 {
		t.Fatalf("use-regex added: whole %v, %d re-translated, want 2", u.Whole, u.Retranslated)
	}
	if r := u.Table.Lookup("app-0.example.com", "/V2/x", nil); r == nil || r.Source.Name != "app-0-other" {
		t.Fatalf("/V2/x on the regex host: %+v", r)
	}
	if got, exp := describeTable(u.Table), describeTable(router.Compile(translate.Translate(e.Snapshot(), opts).Config)); got != exp {
		t.Fatalf("tables differ: %s", firstDiff(got, exp))
	}
}

// firstDiff shows where two renderings part, with some context.
func firstDiff(got, exp string) string {
	g, x := strings.Split(got, "\n"), strings.Split(exp, "\n")
	i := 0
	for i < len(g) && i < len(x) && g[i] == x[i] {
		i++
	}
	from := max(0, i-15)
	return "engine:\n" + strings.Join(g[from:min(len(g), i+10)], "\n") + "\ntranslate:\n" + strings.Join(x[from:min(len(x), i+10)], "\n")
}

// TestEngineEndpointFastPath checks that an EndpointSlice change that
// leaves its Service with ready endpoints re-translates no Ingress,
// reports none as changed, and serves the new endpoint; one that removes
// the last endpoint re-translates the Ingresses naming the Service (their
// problems change).
func TestEngineEndpointFastPath(t *testing.T) {
	s := bigSnapshot(50)
	for i := range s.EndpointSlices {
		s.EndpointSlices[i].ResourceVersion = "1"
	}
	e := translate.NewEngine()
	e.Replace(s)
	e.Update(testOptions)
	es := s.EndpointSlices[7].DeepCopy()
	es.ResourceVersion = "2"
	es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{Addresses: []string{"10.99.0.1"}})
	e.Set(es)
	u := e.Update(testOptions)
	if u.Whole || u.Retranslated != 0 || len(u.Changed) != 0 {
		t.Fatalf("endpoint added: whole %v, %d re-translated, changed %v", u.Whole, u.Retranslated, u.Changed)
	}
	r := u.Table.Lookup("app-7.example.com", "/", nil)
	if r == nil || len(r.Backends) != 1 || len(r.Backends[0].Backend.Endpoints) != 4 {
		t.Fatalf("route after the endpoint was added: %+v", r)
	}
	es = es.DeepCopy()
	es.ResourceVersion = "3"
	es.Endpoints = nil
	e.Set(es)
	if u := e.Update(testOptions); u.Retranslated != 1 || len(u.Changed) != 1 {
		t.Fatalf("last endpoint removed: %d re-translated, changed %v", u.Retranslated, u.Changed)
	}
}

// TestEnginePoliciesTranslateWhole: policies are attached by Translate
// alone, so with policy objects, or an Ingress naming a policy (even one
// that does not exist), the Engine translates whole and serves what
// Translate serves: never such an Ingress unguarded.
func TestEnginePoliciesTranslateWhole(t *testing.T) {
	s := loadSnapshot(t, "testdata/policies.in.yaml")
	e := translate.NewEngine()
	e.Replace(s)
	for range 2 {
		u := e.Update(testOptions)
		if !u.Whole {
			t.Fatal("Update with policies is not whole")
		}
		if got, exp := marshal(t, *u.Result), marshal(t, translate.Translate(s, testOptions)); got != exp {
			t.Fatalf("whole result differs: %s", firstDiff(got, exp))
		}
	}

	// No policy objects at all, one Ingress naming a missing policy.
	w := &world{rng: rand.New(rand.NewPCG(2, 2)), objects: map[string]any{}, secrets: loadSnapshot(t, "testdata/tls.in.yaml").Secrets}
	e = translate.NewEngine()
	for range 20 {
		w.step(e)
	}
	e.Update(testOptions)
	w.step(e)
	if u := e.Update(testOptions); u.Whole {
		t.Fatal("incremental Update expected before any policy is named")
	}
	var named *networkingv1.Ingress
	for ing := range e.Ingresses() {
		if ing.Spec.IngressClassName != nil && len(ing.Spec.Rules) > 0 {
			named = ing.DeepCopy()
			break
		}
	}
	if named == nil {
		t.Fatal("no Ingress in the generated world")
	}
	if named.Annotations == nil {
		named.Annotations = map[string]string{}
	}
	named.Annotations[translate.AnnotationSecurityPolicy] = "does-not-exist"
	named.ResourceVersion += "p"
	e.Set(named)
	u := e.Update(testOptions)
	if !u.Whole {
		t.Fatal("an Ingress naming a policy did not make the Update whole")
	}
	if got, exp := marshal(t, *u.Result), marshal(t, translate.Translate(e.Snapshot(), testOptions)); got != exp {
		t.Fatalf("whole result differs: %s", firstDiff(got, exp))
	}
	delete(named.Annotations, translate.AnnotationSecurityPolicy)
	named.ResourceVersion += "q"
	e.Set(named)
	e.Update(testOptions)
	w.step(e)
	if u := e.Update(testOptions); u.Whole {
		t.Fatal("Updates stay whole after the policy annotation left")
	}
}
