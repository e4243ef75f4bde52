package harness

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// LBRange holds the loopback addresses given to LoadBalancer Services:
// 127.0.100.1, .2, ... one per Service.
const lbPrefix = "127.0.100."

// LoadBalancers is a loopback LoadBalancer provider: each Service of type
// LoadBalancer gets its own 127.0.100.N in status.loadBalancer.ingress, and
// every port of it there forwards connections to the Service's ready
// endpoints (pod IP and target port), round-robin.
type LoadBalancers struct {
	c   client.Client
	log func(string, ...any)

	mu       sync.Mutex
	last     int // the address number given last
	addrs    map[types.NamespacedName]int
	forwards map[string]*lbForward // "ip:port"
}

type lbForward struct {
	ln      net.Listener
	svc     types.NamespacedName
	port    corev1.ServicePort
	targets atomic.Pointer[[]string]
	next    atomic.Uint32
}

func newLoadBalancers(c client.Client, log func(string, ...any)) *LoadBalancers {
	return &LoadBalancers{c: c, log: log, addrs: map[types.NamespacedName]int{}, forwards: map[string]*lbForward{}}
}

// Address returns the address given to a Service ("" when none yet).
func (l *LoadBalancers) Address(ns, name string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n, ok := l.addrs[types.NamespacedName{Namespace: ns, Name: name}]; ok {
		return lbPrefix + strconv.Itoa(n)
	}
	return ""
}

// Run keeps addresses and forwarders in step with the Services until ctx
// ends.
func (l *LoadBalancers) Run(ctx context.Context) error {
	t := time.NewTicker(300 * time.Millisecond)
	defer t.Stop()
	for {
		if err := l.sync(ctx); err != nil && ctx.Err() == nil {
			l.log("load balancers: %v", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

func (l *LoadBalancers) sync(ctx context.Context) error {
	var svcs corev1.ServiceList
	if err := l.c.List(ctx, &svcs); err != nil {
		return err
	}
	var slices discoveryv1.EndpointSliceList
	if err := l.c.List(ctx, &slices); err != nil {
		return err
	}
	want := map[string]bool{}
	seen := map[types.NamespacedName]bool{}
	for i := range svcs.Items {
		svc := &svcs.Items[i]
		if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
			continue
		}
		key := types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}
		seen[key] = true
		ip, err := l.assign(key)
		if err != nil {
			return err
		}
		if len(svc.Status.LoadBalancer.Ingress) != 1 || svc.Status.LoadBalancer.Ingress[0].IP != ip {
			svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: ip}}
			if err := l.c.Status().Update(ctx, svc); err != nil {
				l.log("status of Service %s: %v", key, err)
			}
		}
		for _, p := range svc.Spec.Ports {
			if p.Protocol != "" && p.Protocol != corev1.ProtocolTCP {
				continue
			}
			addr := net.JoinHostPort(ip, strconv.Itoa(int(p.Port)))
			want[addr] = true
			f, err := l.forward(addr, key, p)
			if err != nil {
				l.log("Service %s port %d: %v", key, p.Port, err)
				continue
			}
			targets := endpointTargets(slices.Items, key, p)
			f.targets.Store(&targets)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for addr, f := range l.forwards {
		if !want[addr] {
			f.ln.Close()
			delete(l.forwards, addr)
		}
	}
	for key := range l.addrs {
		if !seen[key] {
			delete(l.addrs, key)
		}
	}
	return nil
}

func (l *LoadBalancers) assign(key types.NamespacedName) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n, ok := l.addrs[key]; ok {
		return lbPrefix + strconv.Itoa(n), nil
	}
	used := map[int]bool{}
	for _, n := range l.addrs {
		used[n] = true
	}
	// Round the range from after the last address given: an address just
	// released may still carry clients' kept-alive connections to the old
	// Service's endpoints.
	for i := range 254 {
		n := (l.last+i)%254 + 1
		if !used[n] {
			l.addrs[key], l.last = n, n
			return lbPrefix + strconv.Itoa(n), nil
		}
	}
	return "", fmt.Errorf("no loopback load balancer address left")
}

// forward returns the forwarder of addr, listening if it is new.
func (l *LoadBalancers) forward(addr string, svc types.NamespacedName, p corev1.ServicePort) (*lbForward, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if f, ok := l.forwards[addr]; ok {
		return f, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	f := &lbForward{ln: ln, svc: svc, port: p}
	f.targets.Store(&[]string{})
	l.forwards[addr] = f
	go forwardAll(ln, func() (net.Conn, error) {
		ts := *f.targets.Load()
		if len(ts) == 0 {
			return nil, fmt.Errorf("no ready endpoint")
		}
		return net.DialTimeout("tcp", ts[int(f.next.Add(1))%len(ts)], 5*time.Second)
	})
	return f, nil
}

// endpointTargets lists the ready endpoint addresses of a Service port.
func endpointTargets(slices []discoveryv1.EndpointSlice, svc types.NamespacedName, p corev1.ServicePort) []string {
	var out []string
	for i := range slices {
		es := &slices[i]
		if es.Namespace != svc.Namespace || es.Labels[discoveryv1.LabelServiceName] != svc.Name {
			continue
		}
		for _, ep := range es.Ports {
			if ep.Port == nil || (ep.Name != nil && *ep.Name != p.Name) || (ep.Name == nil && p.Name != "") {
				continue
			}
			for _, e := range es.Endpoints {
				if e.Conditions.Ready != nil && !*e.Conditions.Ready {
					continue
				}
				for _, a := range e.Addresses {
					out = append(out, net.JoinHostPort(a, strconv.Itoa(int(*ep.Port))))
				}
			}
		}
	}
	return out
}

func (l *LoadBalancers) stopAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for addr, f := range l.forwards {
		f.ln.Close()
		delete(l.forwards, addr)
	}
}
