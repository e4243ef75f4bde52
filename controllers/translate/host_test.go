package translate

import (
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"
)

// TestIsDNSNameAgreesWithAPIMachinery checks the fast host check against
// the validator the API server uses.
func TestIsDNSNameAgreesWithAPIMachinery(t *testing.T) {
	long := ""
	for range 64 {
		long += "a"
	}
	for _, h := range []string{
		"a", "foo.com", "a-b.c", "-a.com", "a-.com", "a..b", ".a", "a.", "a_b", "A.com", "1.2.3.4",
		"xn--bcher-kva.example", long + ".com", long[:63] + ".com", "a.-b", "a-", "",
	} {
		fast := isDNSName(h)
		slow := len(validation.IsDNS1123Subdomain(h)) == 0
		if fast != slow {
			t.Errorf("%q: fast %v, apimachinery %v", h, fast, slow)
		}
	}
}

func FuzzIsDNSName(f *testing.F) {
	for _, s := range []string{"foo.com", "a-b", "-", "a..b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		if isDNSName(h) != (len(validation.IsDNS1123Subdomain(h)) == 0) {
			t.Fatalf("%q disagrees", h)
		}
	})
}
