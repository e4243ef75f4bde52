package router

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// FuzzPeekClientHello feeds arbitrary bytes to the ClientHello peeker: it
// never panics or hangs, finds a server name only in a TLS handshake, and
// the connection it returns replays exactly the bytes it consumed,
// followed by the rest.
func FuzzPeekClientHello(f *testing.F) {
	f.Add(clientHello(f, "example.com"))
	f.Add(clientHello(f, ""))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	f.Add([]byte{0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		a, b := net.Pipe()
		go func() {
			_, _ = a.Write(data)
			a.Close()
		}()
		sni, replay, err := PeekClientHello(b, time.Second)
		if err == nil && len(data) == 0 {
			t.Fatalf("hello %q found in no bytes", sni)
		}
		if err == nil && data[0] != 0x16 {
			t.Fatalf("server name %q found in bytes that are no TLS handshake", sni)
		}
		_ = replay.SetReadDeadline(time.Now().Add(time.Second))
		got, _ := io.ReadAll(replay)
		if !bytes.Equal(got, data) {
			t.Fatalf("replayed %d bytes, want the %d sent", len(got), len(data))
		}
	})
}
