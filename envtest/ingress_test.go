package harness

import (
	"context"
	"fmt"
	"strings"
	"testing"

	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func ourClass(t *testing.T) {
	t.Helper()
	cls := &networkingv1.IngressClass{
		ObjectMeta: metav1.ObjectMeta{Name: "portico"},
		Spec:       networkingv1.IngressClassSpec{Controller: "portico.dev/ingress-controller"},
	}
	err := k8s.Create(context.Background(), cls)
	if err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatal(err)
	}
}

// TestIngressEndToEnd drives real traffic through Portico as Ingresses,
// Services and EndpointSlices change on a real API server.
func TestIngressEndToEnd(t *testing.T) {
	ctx := context.Background()
	ourClass(t)
	ns := namespace(t, "e2e")
	blue, green := backend(t, 1, "blue"), backend(t, 2, "green")
	svcB, esB := service(ns, "blue", blue)
	svcG, esG := service(ns, "green", green)
	create(t, svcB, esB, svcG, esG)

	ing := ingress(ns, "shop", ptr.To("portico"), "shop.example.com",
		path{"/", networkingv1.PathTypePrefix, "blue"},
		path{"/api", networkingv1.PathTypePrefix, "green"},
		path{"/exact", networkingv1.PathTypeExact, "green"})
	create(t, ing)

	t.Run("routes by host and path", func(t *testing.T) {
		expect(t, "shop.example.com", "/", 200, "blue /")
		expect(t, "shop.example.com", "/api/v1", 200, "green /api/v1")
		expect(t, "SHOP.example.com:80", "/apiv2", 200, "blue /apiv2")
		expect(t, "shop.example.com", "/exact", 200, "green /exact")
		expect(t, "shop.example.com", "/exact/", 200, "blue /exact/")
		expect(t, "other.example.com", "/", 404, "")
	})

	t.Run("status published", func(t *testing.T) {
		eventually(t, 20e9, func() error {
			var got networkingv1.Ingress
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(ing), &got); err != nil {
				return err
			}
			lb := got.Status.LoadBalancer.Ingress
			if len(lb) != 1 || lb[0].IP != publishedIP {
				return fmt.Errorf("status.loadBalancer.ingress = %+v", lb)
			}
			return nil
		})
	})

	t.Run("other classes are ignored", func(t *testing.T) {
		other := ingress(ns, "not-ours", ptr.To("nginx"), "nginx.example.com", path{"/", networkingv1.PathTypePrefix, "blue"})
		create(t, other)
		legacy := ingress(ns, "legacy", nil, "legacy.example.com", path{"/", networkingv1.PathTypePrefix, "green"})
		legacy.Annotations = map[string]string{"kubernetes.io/ingress.class": "portico"}
		create(t, legacy)
		expect(t, "legacy.example.com", "/", 200, "green /")
		expect(t, "nginx.example.com", "/", 404, "")
		var got networkingv1.Ingress
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(other), &got); err != nil {
			t.Fatal(err)
		}
		if len(got.Status.LoadBalancer.Ingress) != 0 {
			t.Fatalf("status written on another class's Ingress: %+v", got.Status)
		}
	})

	t.Run("updates and endpoint changes", func(t *testing.T) {
		var cur networkingv1.Ingress
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(ing), &cur); err != nil {
			t.Fatal(err)
		}
		cur.Spec.Rules[0].HTTP.Paths[1].Path = "/v2"
		if err := k8s.Update(ctx, &cur); err != nil {
			t.Fatal(err)
		}
		expect(t, "shop.example.com", "/v2/x", 200, "green /v2/x")
		expect(t, "shop.example.com", "/api/v1", 200, "blue /api/v1")

		// Green loses its only endpoint: 503, then it comes back.
		var es = esG.DeepCopy()
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(esG), es); err != nil {
			t.Fatal(err)
		}
		es.Endpoints[0].Conditions.Ready = ptr.To(false)
		if err := k8s.Update(ctx, es); err != nil {
			t.Fatal(err)
		}
		expect(t, "shop.example.com", "/v2/x", 503, "")
		es.Endpoints[0].Conditions.Ready = ptr.To(true)
		if err := k8s.Update(ctx, es); err != nil {
			t.Fatal(err)
		}
		expect(t, "shop.example.com", "/v2/x", 200, "green /v2/x")
	})

	t.Run("invalid Ingress leaves others serving", func(t *testing.T) {
		bad := ingress(ns, "bad", ptr.To("portico"), "bad.example.com",
			path{"/", networkingv1.PathTypePrefix, "does-not-exist"})
		create(t, bad)
		expect(t, "bad.example.com", "/", 503, "")
		expect(t, "shop.example.com", "/", 200, "blue /")
		eventually(t, 20e9, func() error {
			var evs eventsv1.EventList
			if err := k8s.List(ctx, &evs, client.InNamespace(ns)); err != nil {
				return err
			}
			for _, e := range evs.Items {
				if e.Regarding.Name == "bad" && e.Reason == "ServiceNotFound" && e.Type == "Warning" &&
					strings.Contains(e.Note, "spec.rules[0].http.paths[0].backend.service.name") {
					return nil
				}
			}
			return fmt.Errorf("no ServiceNotFound event for Ingress bad among %d events", len(evs.Items))
		})
	})

	t.Run("conflict goes to the oldest", func(t *testing.T) {
		dup := ingress(ns, "zz-dup", ptr.To("portico"), "shop.example.com", path{"/", networkingv1.PathTypePrefix, "green"})
		create(t, dup)
		eventually(t, 20e9, func() error {
			var evs eventsv1.EventList
			if err := k8s.List(ctx, &evs, client.InNamespace(ns)); err != nil {
				return err
			}
			for _, e := range evs.Items {
				if e.Regarding.Name == "zz-dup" && e.Reason == "RouteConflict" && strings.Contains(e.Note, "Ingress/e2e/shop") {
					return nil
				}
			}
			return fmt.Errorf("no RouteConflict event naming the winner")
		})
		expect(t, "shop.example.com", "/", 200, "blue /")
	})

	t.Run("delete and leave class", func(t *testing.T) {
		var leg networkingv1.Ingress
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "legacy"}, &leg); err != nil {
			t.Fatal(err)
		}
		eventually(t, 20e9, func() error {
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(&leg), &leg); err != nil {
				return err
			}
			if len(leg.Status.LoadBalancer.Ingress) == 0 {
				return fmt.Errorf("legacy Ingress has no status yet")
			}
			return nil
		})
		leg.Annotations["kubernetes.io/ingress.class"] = "nginx"
		if err := k8s.Update(ctx, &leg); err != nil {
			t.Fatal(err)
		}
		expect(t, "legacy.example.com", "/", 404, "")
		eventually(t, 20e9, func() error {
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(&leg), &leg); err != nil {
				return err
			}
			if len(leg.Status.LoadBalancer.Ingress) != 0 {
				return fmt.Errorf("status not removed after leaving the class: %+v", leg.Status)
			}
			return nil
		})
		if err := k8s.Delete(ctx, ing); err != nil {
			t.Fatal(err)
		}
		// The younger duplicate now wins the shop.example.com "/" path.
		expect(t, "shop.example.com", "/", 200, "green /")
	})
}
