package harness

import (
	"fmt"
	"net"
	"os/exec"
	"runtime"
	"strings"

	"github.com/vishvananda/netns"
)

// TestRange is where test hosts get their addresses: 198.18.0.0/15, the RFC
// 2544 benchmark range. SetupNetwork blackholes all of it first, so nothing
// addressed to it can leave the machine.
const TestRange = "198.18.0.0/15"

const nsPrefix = "portico-t"

// Host is a test host: a network namespace joined to the root namespace by a
// veth pair. Its address is 198.18.<N>.2; the root side is 198.18.<N>.1.
type Host struct {
	N    int
	Name string
	IP   string
	// Gateway is the root namespace's side of the veth pair.
	Gateway string
	veth    string
}

func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// SetupNetwork removes leftovers of an earlier run and blackholes TestRange.
// It needs root and iproute2.
func SetupNetwork() error {
	if _, err := exec.LookPath("ip"); err != nil {
		return fmt.Errorf("test hosts need iproute2 (`apt-get install iproute2`): %w", err)
	}
	CleanupNetwork()
	return blackhole()
}

func blackhole() error {
	if err := ip("route", "replace", "blackhole", TestRange); err != nil {
		return fmt.Errorf("test hosts need root to create network namespaces: %w", err)
	}
	return nil
}

// CleanupNetwork deletes every test namespace and the blackhole route.
func CleanupNetwork() {
	cleanupFamily(nsPrefix, "ptv")
	_ = ip("route", "del", "blackhole", TestRange)
}

// cleanupFamily deletes the namespaces and veth pairs of a host family.
func cleanupFamily(prefix, veth string) {
	out, _ := exec.Command("ip", "netns", "list").Output()
	for _, line := range strings.Split(string(out), "\n") {
		if name, _, _ := strings.Cut(strings.TrimSpace(line), " "); strings.HasPrefix(name, prefix) {
			_ = ip("netns", "del", name)
		}
	}
	out, _ = exec.Command("ip", "-o", "link", "show").Output()
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) > 1 && strings.HasPrefix(f[1], veth) {
			name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
			_ = ip("link", "del", name)
		}
	}
}

// NewHost creates test host n (1..254).
func NewHost(n int) (*Host, error) {
	return newNetHost(nsPrefix, "ptv", 18, n, "default")
}

// newNetHost creates host n of a family: namespace <prefix><n>, veth pair
// <veth><n>h/<veth><n>n, address 198.<octet>.<n>.2 (root side .1), with a
// route to dest ("default", or TestRange for hosts that must not reach
// anything else) through the root side.
func newNetHost(prefix, veth string, octet, n int, dest string) (*Host, error) {
	if n < 1 || n > 254 {
		return nil, fmt.Errorf("host number %d out of range 1..254", n)
	}
	h := &Host{N: n, Name: fmt.Sprintf("%s%d", prefix, n), IP: fmt.Sprintf("198.%d.%d.2", octet, n),
		Gateway: fmt.Sprintf("198.%d.%d.1", octet, n), veth: fmt.Sprintf("%s%dh", veth, n)}
	outer, inner := h.veth, fmt.Sprintf("%s%dn", veth, n)
	steps := [][]string{
		{"netns", "add", h.Name},
		{"link", "add", outer, "type", "veth", "peer", "name", inner},
		{"link", "set", inner, "netns", h.Name},
		{"addr", "add", h.Gateway + "/30", "dev", outer},
		{"link", "set", outer, "up"},
		{"-n", h.Name, "addr", "add", h.IP + "/30", "dev", inner},
		{"-n", h.Name, "link", "set", inner, "up"},
		{"-n", h.Name, "link", "set", "lo", "up"},
		{"-n", h.Name, "route", "add", dest, "via", h.Gateway},
	}
	for _, s := range steps {
		if err := ip(s...); err != nil {
			h.Close()
			return nil, err
		}
	}
	return h, nil
}

// Listen opens a TCP listener on the host's address inside its namespace.
// The listener can be served from any goroutine.
func (h *Host) Listen(port int) (net.Listener, error) {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	defer orig.Close()
	target, err := netns.GetFromName(h.Name)
	if err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	ln, lerr := net.Listen("tcp", net.JoinHostPort(h.IP, fmt.Sprint(port)))
	if err := netns.Set(orig); err != nil {
		// The thread is stuck in the test namespace: keep it locked so it
		// dies with this goroutine instead of serving other goroutines.
		if ln != nil {
			ln.Close()
		}
		return nil, fmt.Errorf("returning to the root network namespace: %w", err)
	}
	runtime.UnlockOSThread()
	return ln, lerr
}

// Close removes the host's namespace (which removes its veth pair).
func (h *Host) Close() {
	_ = ip("netns", "del", h.Name)
	_ = ip("link", "del", h.veth)
}
