package translate

import (
	"testing"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// TestFirstEquivalentHeaderNameWins: header names compare without case,
// for HTTPRoute and GRPCRoute alike; query parameter names with case.
func TestFirstEquivalentHeaderNameWins(t *testing.T) {
	hr, err := matchRoute(gatewayv1.HTTPRouteMatch{
		Headers:     []gatewayv1.HTTPHeaderMatch{{Name: "X-Env", Value: "a"}, {Name: "x-env", Value: "b"}},
		QueryParams: []gatewayv1.HTTPQueryParamMatch{{Name: "q", Value: "1"}, {Name: "Q", Value: "2"}, {Name: "q", Value: "3"}},
	})
	if err != nil || len(hr.Headers) != 1 || hr.Headers[0].Value != "a" || len(hr.QueryParams) != 2 {
		t.Fatalf("HTTPRoute: headers %+v query %+v err %v", hr.Headers, hr.QueryParams, err)
	}
	gr, err := grpcMatchRoute(gatewayv1.GRPCRouteMatch{
		Headers: []gatewayv1.GRPCHeaderMatch{{Name: "X-Tier", Value: "gold"}, {Name: "x-tier", Value: "silver"}},
	})
	if err != nil || len(gr.Headers) != 1 || gr.Headers[0].Value != "gold" {
		t.Fatalf("GRPCRoute: headers %+v err %v", gr.Headers, err)
	}
	if _, err := matchRoute(gatewayv1.HTTPRouteMatch{Headers: []gatewayv1.HTTPHeaderMatch{
		{Name: "x", Value: "(", Type: ptrTo(gatewayv1.HeaderMatchRegularExpression)}}}); err == nil {
		t.Fatal("bad header regex accepted")
	}
}

func ptrTo[T any](v T) *T { return &v }
