package translate

import "testing"

// TestIngressHostRejectsIPAddresses: the Ingress API forbids IP addresses
// as rule hosts (issue #10, item 7); names still work.
func TestIngressHostRejectsIPAddresses(t *testing.T) {
	for _, h := range []string{"10.0.0.1", "127.0.0.1", "::1", "[::1]", "2001:db8::1", "0.0.0.0"} {
		if _, _, msg := ingressHost(h); msg == "" {
			t.Errorf("host %q accepted", h)
		}
	}
	for _, h := range []string{"foo.example.com", "*.example.com", "1.example.com", "a1"} {
		if _, _, msg := ingressHost(h); msg != "" {
			t.Errorf("host %q rejected: %s", h, msg)
		}
	}
}
