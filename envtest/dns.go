package harness

import (
	"io"
	"net"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// DNSServer answers DNS queries over UDP and TCP on one address with a
// fixed policy: every A query with A (when set), everything else with an
// empty answer, or NXDOMAIN for every name when A is nil.
type DNSServer struct {
	udp net.PacketConn
	tcp net.Listener
	a   *[4]byte
}

// ServeDNS listens on addr (UDP and TCP; port 0 picks one for both) and
// answers until Close. a, when not nil, is the address of every name.
func ServeDNS(addr string, a *[4]byte) (*DNSServer, error) {
	tcp, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	udp, err := net.ListenPacket("udp", tcp.Addr().String())
	if err != nil {
		tcp.Close()
		return nil, err
	}
	d := &DNSServer{udp: udp, tcp: tcp, a: a}
	go d.serveUDP()
	go d.serveTCP()
	return d, nil
}

// Addr is the address served (host:port).
func (d *DNSServer) Addr() string { return d.tcp.Addr().String() }

// Close stops serving.
func (d *DNSServer) Close() {
	d.udp.Close()
	d.tcp.Close()
}

func (d *DNSServer) serveUDP() {
	buf := make([]byte, 1500)
	for {
		n, from, err := d.udp.ReadFrom(buf)
		if err != nil {
			return
		}
		if out := d.answer(buf[:n]); out != nil {
			_, _ = d.udp.WriteTo(out, from)
		}
	}
}

func (d *DNSServer) serveTCP() {
	for {
		c, err := d.tcp.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			var l [2]byte
			for {
				if _, err := io.ReadFull(c, l[:]); err != nil {
					return
				}
				msg := make([]byte, int(l[0])<<8|int(l[1]))
				if _, err := io.ReadFull(c, msg); err != nil {
					return
				}
				out := d.answer(msg)
				if out == nil {
					return
				}
				if _, err := c.Write(append([]byte{byte(len(out) >> 8), byte(len(out))}, out...)); err != nil {
					return
				}
			}
		}()
	}
}

func (d *DNSServer) answer(msg []byte) []byte {
	var p dnsmessage.Parser
	hdr, err := p.Start(msg)
	if err != nil {
		return nil
	}
	q, err := p.Question()
	if err != nil {
		return nil
	}
	rh := dnsmessage.Header{ID: hdr.ID, Response: true, Authoritative: true}
	if d.a == nil {
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, rh)
	_ = b.StartQuestions()
	_ = b.Question(q)
	_ = b.StartAnswers()
	if d.a != nil && q.Type == dnsmessage.TypeA {
		_ = b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 5},
			dnsmessage.AResource{A: *d.a})
	}
	out, err := b.Finish()
	if err != nil {
		return nil
	}
	return out
}
