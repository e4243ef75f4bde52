package router

import (
	"net/http"
	"reflect"
	"testing"

	"github.com/valyala/fasthttp"
)

func TestCopyResponseHeader(t *testing.T) {
	var up fasthttp.ResponseHeader
	up.SetNoDefaultContentType(true)
	up.SetContentLength(3)
	up.Set("Content-Type", "text/plain")
	up.Add("Set-Cookie", "a=1")
	up.Add("Set-Cookie", "b=2")
	up.Set("X-Custom", "x")
	h := http.Header{"X-Early": {"e"}, "X-Custom": {"first"}}
	copyResponseHeader(h, &up)
	want := http.Header{"X-Early": {"e"}, "X-Custom": {"first", "x"}, "Content-Type": {"text/plain"},
		"Set-Cookie": {"a=1", "b=2"}}
	if !reflect.DeepEqual(h, want) {
		t.Fatalf("got %v, want %v", h, want)
	}
	// A field's values never run into the next field's.
	h["Content-Type"] = append(h["Content-Type"], "extra")
	if got := h["Set-Cookie"]; !reflect.DeepEqual(got, []string{"a=1", "b=2"}) {
		t.Fatalf("appending to one field changed another: %v", got)
	}
}

func TestCopyResponseHeaderAllocs(t *testing.T) {
	var up fasthttp.ResponseHeader
	up.SetContentLength(3)
	for _, n := range []string{"Server", "Date", "Content-Type", "Last-Modified", "Etag", "Accept-Ranges"} {
		up.Set(n, "v-"+n)
	}
	h := http.Header{}
	allocs := testing.AllocsPerRun(100, func() {
		clear(h)
		copyResponseHeader(h, &up)
	})
	// One per value and one for the values' shared array.
	if allocs > 7 {
		t.Errorf("%v allocations for six common fields, want at most 7", allocs)
	}
}
