package standalone

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portico-dev/portico/controllers/translate"
)

func sliceDoc(name string, i int) string {
	return fmt.Sprintf(`apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: %s-1, labels: {kubernetes.io/service-name: %s}}
addressType: IPv4
ports: [{port: 8080}]
endpoints: [{addresses: [10.%d.%d.1]}]
`, name, name, i/256%256, i%256)
}

// BenchmarkReloadOneChange measures standalone's reload after one
// Ingress of n (each with its Service and EndpointSlice, 10,000 to a file:
// a file of 50,000 is over MaxFileSize) changed: stat the files, read and
// split the changed one, parse the changed document, give the change to
// the Engine and patch the table.
func BenchmarkReloadOneChange(b *testing.B) {
	for _, n := range []int{10000, 50000} {
		b.Run(fmt.Sprintf("%d-ingresses", n), func(b *testing.B) {
			dir := b.TempDir()
			const perFile = 10000
			docs := make([]string, 0, 3*n)
			for i := range n {
				name := fmt.Sprintf("app-%d", i)
				docs = append(docs, ingressDoc(name, name+".example.com"), serviceDoc(name), sliceDoc(name, i))
			}
			file := func(k int) string { return filepath.Join(dir, fmt.Sprintf("part-%d.yaml", k/perFile)) }
			write := func(k int) {
				part := k / perFile * perFile
				if err := os.WriteFile(file(k), []byte(strings.Join(docs[3*part:3*(part+perFile)], "---\n")), 0o644); err != nil {
					b.Fatal(err)
				}
			}
			for k := 0; k < n; k += perFile {
				write(k)
			}
			tr := newTree(dir, defaultLimits)
			e := translate.NewEngine()
			opts := translate.Options{ControllerName: "portico.dev/ingress-controller", IngressClass: "portico"}
			apply := func() {
				ch, err := tr.load()
				if err != nil {
					b.Fatal(err)
				}
				for _, o := range ch.Set {
					e.Set(o)
				}
				for _, ref := range ch.Deleted {
					e.Delete(ref.Kind, ref.Namespace, ref.Name)
				}
				e.SetOthers(ch.Others)
				e.Update(opts)
			}
			apply()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				k := i * 7919 % n
				docs[3*k] = ingressDoc(fmt.Sprintf("app-%d", k), fmt.Sprintf("v%d.app-%d.example.com", i, k))
				write(k)
				mt := time.Now().Add(time.Duration(i) * time.Millisecond)
				_ = os.Chtimes(file(k), mt, mt)
				b.StartTimer()
				apply()
			}
		})
	}
}
