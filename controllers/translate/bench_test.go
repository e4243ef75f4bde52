package translate_test

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/portico-dev/portico/controllers/translate"
	"github.com/portico-dev/portico/router"
)

// bigSnapshot has n Ingresses, each with its own host, two paths and its
// own Service with three endpoints.
func bigSnapshot(n int) *translate.Snapshot {
	s := &translate.Snapshot{IngressClasses: []networkingv1.IngressClass{{
		ObjectMeta: metav1.ObjectMeta{Name: "portico"},
		Spec:       networkingv1.IngressClassSpec{Controller: "portico.dev/ingress-controller"},
	}}}
	for i := 0; i < n; i++ {
		ns, name := fmt.Sprintf("ns-%d", i%100), fmt.Sprintf("app-%d", i)
		backend := networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
			Name: name, Port: networkingv1.ServiceBackendPort{Number: 80}}}
		s.Ingresses = append(s.Ingresses, networkingv1.Ingress{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: networkingv1.IngressSpec{IngressClassName: ptr.To("portico"), Rules: []networkingv1.IngressRule{{
				Host: name + ".example.com",
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{
					{Path: "/", PathType: ptr.To(networkingv1.PathTypePrefix), Backend: backend},
					{Path: "/api", PathType: ptr.To(networkingv1.PathTypePrefix), Backend: backend},
				}}},
			}}},
		})
		s.Services = append(s.Services, corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}},
		})
		es := discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: name + "-1", Labels: map[string]string{discoveryv1.LabelServiceName: name}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       []discoveryv1.EndpointPort{{Port: ptr.To[int32](8080)}},
		}
		for j := 0; j < 3; j++ {
			es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{Addresses: []string{fmt.Sprintf("10.%d.%d.%d", i/65536, i/256%256, j)}})
		}
		s.EndpointSlices = append(s.EndpointSlices, es)
	}
	return s
}

// BenchmarkTranslate measures a full rebuild: translate and compile the
// whole snapshot, as one change does today.
func BenchmarkTranslate(b *testing.B) {
	for _, n := range []int{10000, 50000} {
		s := bigSnapshot(n)
		b.Run(fmt.Sprintf("%d-ingresses", n), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				translate.Translate(s, testOptions)
			}
		})
		b.Run(fmt.Sprintf("%d-ingresses+compile", n), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				router.Compile(translate.Translate(s, testOptions).Config)
			}
		})
	}
}

// BenchmarkEngineChange measures one change at n Ingresses through the
// incremental Engine: an Ingress updated (its path list changes), an
// EndpointSlice updated (an endpoint added), an Ingress created; beside
// BenchmarkTranslate's "+compile" case, which is what a change costs
// without the Engine.
func BenchmarkEngineChange(b *testing.B) {
	for _, n := range []int{10000, 50000} {
		s := versioned(bigSnapshot(n))
		e := translate.NewEngine()
		e.Replace(s)
		e.Update(testOptions)
		rv := 1
		b.Run(fmt.Sprintf("%d-ingresses/ingress-updated", n), func(b *testing.B) {
			updateIngresses(b, e, s, testOptions, &rv)
		})
		b.Run(fmt.Sprintf("%d-ingresses/endpointslice-updated", n), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				rv++
				es := s.EndpointSlices[i%n].DeepCopy()
				es.ResourceVersion = fmt.Sprint(rv)
				es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{Addresses: []string{fmt.Sprintf("10.200.%d.%d", rv/256%256, rv%256)}})
				e.Set(es)
				e.Update(testOptions)
			}
		})
		b.Run(fmt.Sprintf("%d-ingresses/ingress-created", n), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				rv++
				ing := s.Ingresses[i%n].DeepCopy()
				ing.Name = fmt.Sprintf("new-%d", rv)
				ing.ResourceVersion = "1"
				ing.Spec.Rules[0].Host = ing.Name + ".example.com"
				e.Set(ing)
				e.Update(testOptions)
			}
		})
	}
}

// updateIngresses changes b.N Ingresses of s in turn (a path more or
// less, a new resourceVersion *rv) and applies each through e.
func updateIngresses(b *testing.B, e *translate.Engine, s *translate.Snapshot, opts translate.Options, rv *int) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		*rv++
		ing := s.Ingresses[i%len(s.Ingresses)].DeepCopy()
		ing.ResourceVersion = fmt.Sprint(*rv)
		ing.Spec.Rules[0].HTTP.Paths = ing.Spec.Rules[0].HTTP.Paths[:1+*rv%2]
		e.Set(ing)
		e.Update(opts)
	}
}

// versioned gives every Ingress, Service and EndpointSlice of s a
// resourceVersion, so that the Engine tells changed objects from the same.
func versioned(s *translate.Snapshot) *translate.Snapshot {
	for i := range s.Ingresses {
		s.Ingresses[i].ResourceVersion = "1"
	}
	for i := range s.Services {
		s.Services[i].ResourceVersion = "1"
	}
	for i := range s.EndpointSlices {
		s.EndpointSlices[i].ResourceVersion = "1"
	}
	return s
}

// nginxSnapshot is bigSnapshot with every Ingress of the ingress-nginx
// class, as a migrated cluster has them: each with rewrite-target (its
// host's paths are expressions), a body limit, a source range, a rate
// limit and ssl-redirect off.
func nginxSnapshot(n int) *translate.Snapshot {
	s := bigSnapshot(n)
	s.IngressClasses = append(s.IngressClasses, networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "nginx"},
		Spec: networkingv1.IngressClassSpec{Controller: translate.NginxControllerName}})
	for i := range s.Ingresses {
		ing := &s.Ingresses[i]
		ing.Spec.IngressClassName = ptr.To("nginx")
		p := translate.NginxAnnotationPrefix
		ing.Annotations = map[string]string{p + "rewrite-target": "/$1", p + "proxy-body-size": "8m",
			p + "whitelist-source-range": "10.0.0.0/8", p + "limit-rps": "100", p + "ssl-redirect": "false"}
	}
	return s
}

// nginxOptions turn ingress-nginx compatibility on, with the ConfigMap's
// custom-http-errors and the controller's default backend (app-0 of the
// snapshots above) as every route's error backend.
func nginxOptions() translate.Options {
	o := testOptions
	o.Nginx = &translate.NginxOptions{ConfigMap: map[string]string{"custom-http-errors": "404,503"}}
	o.DefaultBackend = "ns-0/app-0:80"
	return o
}

// BenchmarkEngineChangeKinds measures one Ingress change through the
// Engine at n Ingresses of other kinds than BenchmarkEngineChange's:
// every Ingress of the ingress-nginx class and annotated (nginxSnapshot),
// and plain Ingresses beside Gateway API objects (a GatewayClass, a
// Gateway and HTTPRoutes). Each kind's "whole" case is Translate and
// Compile of the same objects: what a change costs when the Engine
// translates whole. With ingress-nginx, an endpoint change of the error
// backend (the controller's default backend) is measured apart: every
// route holds it.
func BenchmarkEngineChangeKinds(b *testing.B) {
	gw := loadSnapshot(b, "testdata/gateway-http.in.yaml")
	for _, kind := range []string{"nginx", "gateway"} {
		for _, n := range []int{10000, 50000} {
			// The objects are made within the sub-benchmark, so that
			// -bench selects which are.
			b.Run(fmt.Sprintf("%s/%d-ingresses", kind, n), func(b *testing.B) {
				s, opts := versioned(bigSnapshot(n)), testOptions
				if kind == "nginx" {
					s, opts = versioned(nginxSnapshot(n)), nginxOptions()
				}
				e := translate.NewEngine()
				e.Replace(s)
				if kind == "gateway" {
					e.SetOthers(gw)
				}
				e.Update(opts)
				rv := 1
				b.Run("ingress-updated", func(b *testing.B) { updateIngresses(b, e, s, opts, &rv) })
				endpoints := func(b *testing.B, slice func(i int) int) {
					b.ReportAllocs()
					for i := 0; i < b.N; i++ {
						rv++
						es := s.EndpointSlices[slice(i)].DeepCopy()
						es.ResourceVersion = fmt.Sprint(rv)
						es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{Addresses: []string{fmt.Sprintf("10.200.%d.%d", rv/256%256, rv%256)}})
						e.Set(es)
						e.Update(opts)
					}
				}
				// app-0 is the default backend of nginxOptions: every
				// ingress-nginx route's error backend, measured apart.
				b.Run("endpointslice-updated", func(b *testing.B) { endpoints(b, func(i int) int { return 1 + i%(n-1) }) })
				if kind == "nginx" {
					b.Run("error-backend-endpointslice-updated", func(b *testing.B) { endpoints(b, func(int) int { return 0 }) })
				}
				whole := e.Snapshot()
				b.Run("whole", func(b *testing.B) {
					b.ReportAllocs()
					for i := 0; i < b.N; i++ {
						router.Compile(translate.Translate(whole, opts).Config)
					}
				})
			})
		}
	}
}
