package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// splitter divides each timed change into three parts by the controller's
// /debug/applied entry for the changed object (its Time is when the table
// serving the change was swapped in, Took how long before that the
// controller's watch saw the change; harness and controller share the
// clock):
//   - watch: from the API write being sent until the controller's watch
//     handler saw the event (API server, etcd, watch delivery);
//   - controller: from the event to the table swap (queue, rebuild, swap);
//   - probe: from the swap until the probe saw the answer (the probe's
//     polling interval and the request itself).
//
// A change whose entry is missing or names a later change is left out.
type splitter struct {
	watch, controller, probe []time.Duration
	missing                  int
}

// split is the summary of a splitter.
type split struct {
	Watch      stats `json:"watch"`
	Controller stats `json:"controller"`
	Probe      stats `json:"probe"`
	Missing    int   `json:"missing,omitempty"`
}

// add looks up object's entry on the metrics address after a change sent
// at sent was seen served at seen.
func (s *splitter) add(metricsAddr, object string, sent, seen time.Time) {
	var a struct {
		Time time.Time     `json:"time"`
		Took time.Duration `json:"took"`
	}
	resp, err := http.Get("http://" + metricsAddr + "/debug/applied?object=" + url.QueryEscape(object))
	if err == nil {
		err = json.NewDecoder(resp.Body).Decode(&a)
		resp.Body.Close()
	}
	evt := a.Time.Add(-a.Took)
	if err != nil || a.Time.IsZero() || evt.Before(sent) || a.Time.After(seen) {
		s.missing++
		return
	}
	s.watch = append(s.watch, evt.Sub(sent))
	s.controller = append(s.controller, a.Took)
	s.probe = append(s.probe, seen.Sub(a.Time))
}

func (s *splitter) summary() *split {
	if len(s.watch) == 0 && s.missing == 0 {
		return nil
	}
	out := &split{Watch: summarize(s.watch), Controller: summarize(s.controller), Probe: summarize(s.probe), Missing: s.missing}
	fmt.Printf("#   split (p50/p99/max ms): watch %.1f/%.1f/%.1f, controller %.1f/%.1f/%.1f, probe %.1f/%.1f/%.1f (%d without an entry)\n",
		out.Watch.P50, out.Watch.P99, out.Watch.Max, out.Controller.P50, out.Controller.P99, out.Controller.Max,
		out.Probe.P50, out.Probe.P99, out.Probe.Max, out.Missing)
	return out
}
