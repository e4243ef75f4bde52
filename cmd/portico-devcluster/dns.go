package main

import (
	"encoding/binary"
	"flag"
	"io"
	"net"

	"golang.org/x/net/dns/dnsmessage"
)

// serveDNS answers every query NXDOMAIN on :53 (UDP and TCP), standing in
// for the conformance suite's coredns pod. Unknown flags (coredns's) are
// ignored.
func serveDNS(args []string) error {
	fs := flag.NewFlagSet("dns", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	addr := fs.String("addr", ":53", "listen address")
	_ = fs.Parse(args)
	pc, err := net.ListenPacket("udp", *addr)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				var n uint16
				if binary.Read(c, binary.BigEndian, &n) != nil {
					return
				}
				msg := make([]byte, n)
				if _, err := io.ReadFull(c, msg); err != nil {
					return
				}
				if out := nxdomain(msg); out != nil {
					_ = binary.Write(c, binary.BigEndian, uint16(len(out)))
					_, _ = c.Write(out)
				}
			}()
		}
	}()
	buf := make([]byte, 1500)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return err
		}
		if out := nxdomain(buf[:n]); out != nil {
			_, _ = pc.WriteTo(out, from)
		}
	}
}

func nxdomain(msg []byte) []byte {
	var p dnsmessage.Parser
	hdr, err := p.Start(msg)
	if err != nil {
		return nil
	}
	q, err := p.Question()
	if err != nil {
		return nil
	}
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: hdr.ID, Response: true, RCode: dnsmessage.RCodeNameError})
	if b.StartQuestions() != nil || b.Question(q) != nil {
		return nil
	}
	out, err := b.Finish()
	if err != nil {
		return nil
	}
	return out
}
