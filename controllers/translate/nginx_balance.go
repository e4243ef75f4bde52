package translate

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/portico-dev/portico/router"
)

// ingress-nginx's balancing annotations: upstream-hash-by (consistent
// hashing on one nginx variable) and load-balance.

func init() {
	registerNginx(
		NginxAnnotation{Name: "upstream-hash-by", Support: NginxDifferent,
			Note: "Consistent hashing (rendezvous, not ketama: a different but equally stable mapping) on one nginx variable, with " +
				"optional constant text: $request_uri, $host, $http_host, $remote_addr (the connection's address), $binary_remote_addr, " +
				"$http_NAME, $cookie_NAME, $arg_NAME. Requests without the header, cookie or parameter are balanced round robin " +
				"(nginx hashes the empty key). Keys combining several variables are not supported (round robin, reported)."},
		NginxAnnotation{Name: "upstream-hash-by-subset", Support: NginxUnsupported,
			Note: "Subset hashing is not supported; upstream-hash-by maps each key to one endpoint."},
		NginxAnnotation{Name: "upstream-hash-by-subset-size", Support: NginxUnsupported,
			Note: "Subset hashing is not supported."},
		NginxAnnotation{Name: "load-balance", Support: NginxDifferent, Default: "round_robin",
			Note: "round_robin; ewma is served as least request (the less busy of two random endpoints, by requests in flight, not " +
				"by peak EWMA latency). The ConfigMap key load-balance is the default; upstream-hash-by takes precedence."},
	)
	onNginxRoute(400, "balance", func(n *nginxIngress, _ nginxPath, r *router.Route) {
		nginxBalanceBackends(n, r.Backends)
	})
}

// nginxHashVar is one nginx variable, alone but for constant text.
var nginxHashVar = regexp.MustCompile(`\$\{?([a-z_][a-z0-9_]*)\}?`)

// nginxBalancing reads the balancing annotations (nil: the default).
func nginxBalancing(n *nginxIngress) (*router.Balancing, string) {
	if key, ok := n.value("upstream-hash-by"); ok && strings.TrimSpace(key) != "" {
		vars := nginxHashVar.FindAllStringSubmatch(key, -1)
		if len(vars) != 1 {
			n.problem("upstream-hash-by", SeverityWarning, "UnsupportedAnnotation", fmt.Sprintf(
				"%q: Portico hashes on exactly one nginx variable; requests are balanced round robin", key))
			return nil, ""
		}
		b := &router.Balancing{Policy: router.ConsistentHash}
		v := vars[0][1]
		switch {
		case v == "request_uri":
			b.HashRequestURI = true
		case v == "host" || v == "http_host":
			b.HashHost = true
		case v == "remote_addr" || v == "binary_remote_addr":
			b.HashSourceIP = true
		case strings.HasPrefix(v, "http_") && len(v) > 5:
			b.HashHeader = strings.ReplaceAll(v[5:], "_", "-")
		case strings.HasPrefix(v, "cookie_") && len(v) > 7:
			b.HashCookie = v[7:]
		case strings.HasPrefix(v, "arg_") && len(v) > 4:
			b.HashQuery = v[4:]
		default:
			n.problem("upstream-hash-by", SeverityWarning, "UnsupportedAnnotation", fmt.Sprintf(
				"nginx variable $%s is not supported for hashing; requests are balanced round robin", v))
			return nil, ""
		}
		return b, "hash=" + key
	}
	lb, ok := n.value("load-balance")
	name := "load-balance"
	if !ok {
		lb, name = n.global["load-balance"], "ConfigMap load-balance"
	}
	switch strings.TrimSpace(lb) {
	case "", "round_robin":
		return nil, ""
	case "ewma":
		return &router.Balancing{Policy: router.LeastRequest}, "lb=ewma"
	}
	if ok {
		n.problem("load-balance", SeverityWarning, "InvalidAnnotation", quote(lb)+" is not round_robin or ewma; round robin is used")
	} else {
		n.t.problem(n.ref, "metadata.annotations", SeverityWarning, "InvalidConfigMap", name+": "+quote(lb)+" is not round_robin or ewma; round robin is used")
	}
	return nil, ""
}

// nginxBalanceBackends gives the backends the Ingress's balancing, as
// variants (a Service's backend is shared with other routes).
func nginxBalanceBackends(n *nginxIngress, bs []router.WeightedBackend) {
	bal, key := nginxBalancing(n)
	if bal == nil {
		return
	}
	r := n.t.backends
	for i := range bs {
		b := bs[i].Backend
		if b == nil {
			continue
		}
		vk := variantKey(b, "nginx:"+key)
		v, ok := r.variants[vk]
		if !ok {
			c := *b
			nb := *bal
			if old := b.Balancing; old != nil {
				nb.MaxRequests, nb.Outlier = old.MaxRequests, old.Outlier
			}
			c.Balancing = &nb
			v = &c
			r.variants[vk] = v
			if target, ok := r.targetOf[b]; ok {
				r.targetOf[v] = target
			}
			if why, ok := r.unsupported[b]; ok {
				r.unsupported[v] = why
			}
		}
		bs[i].Backend = v
	}
}
