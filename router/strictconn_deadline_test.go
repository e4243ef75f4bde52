package router

import (
	"net"
	"testing"
	"time"
)

// strictPair returns a framing-checked server side and its client over
// loopback TCP.
func strictPair(t *testing.T) (*strictConn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	sc := newStrictConn(server, nil, h2Allowed, nil)
	t.Cleanup(func() { _ = sc.Close(); _ = client.Close() })
	return sc, client
}

// readAfter has the client send a request head after delay, and reads
// from sc.
func readAfter(sc *strictConn, client net.Conn, delay time.Duration) error {
	go func() {
		time.Sleep(delay)
		_, _ = client.Write([]byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n"))
	}()
	_, err := sc.Read(make([]byte, 64))
	return err
}

func TestLazyReadDeadlineLaterWins(t *testing.T) {
	sc, client := strictPair(t)
	_ = sc.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	// Later than the armed one: the armed one stays, and fires too soon.
	_ = sc.SetReadDeadline(time.Now().Add(time.Minute))
	if !sc.rd.armed.Before(sc.rd.want) {
		t.Error("a later deadline moved the connection's own: want it left until it fires")
	}
	if err := readAfter(sc, client, 200*time.Millisecond); err != nil {
		t.Fatalf("read under a one-minute deadline: %v", err)
	}
}

func TestLazyReadDeadlineCleared(t *testing.T) {
	sc, client := strictPair(t)
	_ = sc.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	_ = sc.SetReadDeadline(time.Time{})
	if err := readAfter(sc, client, 200*time.Millisecond); err != nil {
		t.Fatalf("read without a deadline: %v", err)
	}
}

func TestLazyReadDeadlineShortened(t *testing.T) {
	sc, _ := strictPair(t)
	_ = sc.SetReadDeadline(time.Now().Add(time.Hour))
	_ = sc.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := sc.Read(make([]byte, 64)); !isDeadline(err) {
		t.Fatalf("read past a shortened deadline: %v, want a timeout", err)
	}
	// The per-read timeout's record of a stalled body stays for real
	// timeouts only.
	if sc.readTimedOut.Load() {
		t.Error("readTimedOut set without a per-read timeout")
	}
}

func TestLazyReadDeadlineAbortsBlockedRead(t *testing.T) {
	sc, _ := strictPair(t)
	done := make(chan error, 1)
	go func() {
		_, err := sc.Read(make([]byte, 64))
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	// What net/http does to end its background read.
	_ = sc.SetReadDeadline(time.Unix(1, 0))
	if err := <-done; !isDeadline(err) {
		t.Fatalf("blocked read after a deadline in the past: %v, want a timeout", err)
	}
	_ = sc.SetReadDeadline(time.Time{})
}

func TestLazyPerReadTimeout(t *testing.T) {
	sc, client := strictPair(t)
	_ = sc.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	sc.setPerReadTimeout(time.Minute)
	if err := readAfter(sc, client, 200*time.Millisecond); err != nil {
		t.Fatalf("read under a one-minute per-read timeout: %v", err)
	}
	sc.setPerReadTimeout(20 * time.Millisecond)
	if _, err := sc.Read(make([]byte, 64)); !isDeadline(err) || !sc.readTimedOut.Load() {
		t.Fatalf("stalled read: %v (timed out recorded: %v), want a timeout", err, sc.readTimedOut.Load())
	}
}
