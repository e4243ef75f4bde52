package translate

import (
	"strconv"
	"time"

	"github.com/portico-dev/portico/router"
)

// ingress-nginx's rate and connection limits, per client address and per
// replica, on the router's local rate limit and connection limit.

func init() {
	registerNginx(
		NginxAnnotation{Name: "limit-rps", Support: NginxDifferent,
			Note: "Requests per second per client address, in each replica, with a burst of limit-rps × limit-burst-multiplier; refused " +
				"requests get the ConfigMap's limit-req-status-code (503). nginx's leaky bucket with nodelay is served as a token bucket " +
				"of burst+1 tokens; refusals carry no Retry-After. The limit is shared by all paths of the Ingress and checked first, before source ranges and " +
				"authentication (as nginx's preaccess phase)."},
		NginxAnnotation{Name: "limit-rpm", Support: NginxDifferent,
			Note: "As limit-rps, per minute; with limit-rps both apply."},
		NginxAnnotation{Name: "limit-burst-multiplier", Support: NginxSupported, Default: "5",
			Note: "The burst is the rate times this multiplier."},
		NginxAnnotation{Name: "limit-connections", Support: NginxDifferent,
			Note: "Requests in progress per client address, in each replica; beyond it the ConfigMap's limit-conn-status-code (503). " +
				"Portico counts requests in progress (each HTTP/2 stream, as nginx), from the policy check until the answer is written."},
		NginxAnnotation{Name: "limit-whitelist", Support: NginxSupported,
			Note: "Client CIDRs exempt from limit-rps, limit-rpm and limit-connections. Alias: limit-allowlist."},
		NginxAnnotation{Name: "limit-allowlist", Support: NginxSupported,
			Note: "Client CIDRs exempt from limit-rps, limit-rpm and limit-connections."},
		NginxAnnotation{Name: "limit-rate", Support: NginxUnsupported,
			Note: "Response bandwidth is not limited."},
		NginxAnnotation{Name: "limit-rate-after", Support: NginxUnsupported,
			Note: "Response bandwidth is not limited."},
	)
	onNginxIngress(130, "limits", nginxLimits)
}

// nginxLimits reads the limit annotations.
func nginxLimits(n *nginxIngress) {
	if n.canary != nil {
		return
	}
	rps := n.positiveInt("limit-rps")
	rpm := n.positiveInt("limit-rpm")
	conns := n.positiveInt("limit-connections")
	if rps == 0 && rpm == 0 && conns == 0 {
		return
	}
	mult := 5
	if _, ok := n.value("limit-burst-multiplier"); ok {
		if m := n.positiveInt("limit-burst-multiplier"); m > 0 {
			mult = m
		}
	}
	wlName := "limit-whitelist"
	if _, ok := n.value(wlName); !ok {
		wlName = "limit-allowlist"
	}
	exempt := ""
	if v, ok := n.value(wlName); ok {
		for _, f := range splitList(v) {
			pfx, err := parseCIDR(f)
			if err != nil {
				n.problem(wlName, SeverityError, "InvalidAnnotation", err.Error()+"; the entry is ignored (the limits apply to it)")
				continue
			}
			if exempt != "" {
				exempt += ","
			}
			exempt += pfx.String()
		}
	}
	scope := "ingress-nginx/" + n.ref.String()
	p := n.pol()
	reqStatus := n.globalStatus("limit-req-status-code")
	mult = min(mult, 1<<10)
	limit := func(rate int, per time.Duration) *router.LocalRateLimit {
		rate = min(rate, 1<<20)
		return &router.LocalRateLimit{Requests: uint32(rate), Per: per, Burst: uint32(rate*mult) + 1,
			Key: router.RateKeyClientIP, Status: reqStatus, Exempt: exempt, Scope: scope}
	}
	if rps > 0 {
		p.p.RateLimit = limit(rps, time.Second)
	}
	if rpm > 0 {
		l := limit(rpm, time.Minute)
		if p.p.RateLimit == nil {
			p.p.RateLimit = l
		} else {
			p.p.MoreRateLimits = append(p.p.MoreRateLimits, l)
		}
	}
	if conns > 0 {
		p.p.ConnLimit = &router.ConnLimit{Max: uint32(min(conns, 1<<30)), Status: n.globalStatus("limit-conn-status-code"),
			Exempt: exempt, Scope: scope}
	}
}

// positiveInt reads a non-negative integer annotation (0 when absent or
// invalid, with an Error problem for the latter).
func (n *nginxIngress) positiveInt(name string) int {
	v, ok := n.value(name)
	if !ok {
		return 0
	}
	i, err := strconv.Atoi(v)
	if err != nil || i < 0 {
		n.problem(name, SeverityError, "InvalidAnnotation", quote(v)+" is not a non-negative integer; the annotation is ignored")
		return 0
	}
	return i
}

// globalStatus reads a status code of the ConfigMap (503 by default).
func (n *nginxIngress) globalStatus(key string) int {
	v, ok := n.global[key]
	if !ok {
		return 503
	}
	c, err := strconv.Atoi(v)
	if err != nil || c < 400 || c > 599 {
		n.t.problem(n.ref, "metadata.annotations", SeverityWarning, "InvalidConfigMap",
			"ingress-nginx ConfigMap key "+key+": "+quote(v)+" is not an error status; 503 is used")
		return 503
	}
	return c
}
