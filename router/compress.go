package router

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Compression compresses the responses of a route for clients that accept
// it (Accept-Encoding, with q-values, "identity" and "*"). A response is
// sent as it came when it is not worth or not safe to compress: a HEAD
// request or one with a Range header, a status of 1xx, 204, 206 or 304, a
// Content-Encoding or Content-Range already present, Cache-Control
// no-transform, a Content-Type not in ContentTypes, or a Content-Length
// below MinLength. A compressed response loses its Content-Length and
// Accept-Ranges, its strong ETag becomes weak, and every response that
// would have been compressed for another client says
// "Vary: Accept-Encoding". Streams (text/event-stream, bodies without a
// length) are compressed as they flow: every flush of the backend's
// stream flushes the encoder.
type Compression struct {
	// Encodings are the codings offered, in the server's order of
	// preference for clients that rate several equally (default: zstd,
	// br, gzip).
	Encodings []Encoding `json:"encodings,omitempty"`
	// MinLength is the smallest body compressed, by Content-Length
	// (default 1024; nginx's gzip_min_length defaults to 20, ingress-
	// nginx's to 256). A body without a length is compressed once this
	// much of it was written (or at its first flush).
	MinLength int64 `json:"minLength,omitempty"`
	// ContentTypes are the media types compressed: "type/subtype", or
	// patterns with one "*" ("text/*", "application/*+json"; "*" alone is
	// every type but DefaultIncompressible). Parameters are ignored
	// (default: DefaultCompressibleTypes).
	ContentTypes []string `json:"contentTypes,omitempty"`

	compiled struct {
		once sync.Once
		c    *compiledCompression
		err  error
	}
}

// Encoding is a content coding Portico compresses with.
type Encoding string

// The codings Portico compresses with.
const (
	EncodingGzip   Encoding = "gzip"
	EncodingBrotli Encoding = "br"
	EncodingZstd   Encoding = "zstd"
)

// DefaultMinCompressLength is Compression.MinLength's default.
const DefaultMinCompressLength = 1024

// DefaultCompressibleTypes are the media types compressed when a
// Compression names none: text, and the structured and font types that
// are text in disguise.
var DefaultCompressibleTypes = []string{
	"text/*", "application/json", "application/*+json", "application/javascript", "application/x-javascript",
	"application/xml", "application/*+xml", "application/wasm", "application/graphql-response+json",
	"application/x-ndjson", "application/vnd.ms-fontobject", "application/x-font-ttf", "font/ttf", "font/otf",
	"font/opentype", "image/svg+xml", "image/x-icon", "image/bmp",
}

// DefaultIncompressible are the media types a "*" pattern leaves out:
// they are compressed already.
var DefaultIncompressible = []string{
	"image/*", "video/*", "audio/*", "font/woff", "font/woff2", "application/zip", "application/gzip",
	"application/x-gzip", "application/zstd", "application/x-brotli", "application/x-7z-compressed",
	"application/x-rar-compressed", "application/x-bzip2", "application/x-xz", "application/pdf",
	"application/octet-stream",
}

// compiledCompression is a Compression ready to decide: its codings as
// indexes, its type patterns split.
type compiledCompression struct {
	encodings []Encoding
	minLength int64
	types     []typePattern
	// except applies with "*": types never compressed.
	except []typePattern
}

// typePattern matches a media type by a prefix and a suffix around one
// "*" (or exactly, without one).
type typePattern struct {
	prefix, suffix string
	wild           bool
}

// Check reports what makes the compression unusable (a coding Portico
// does not have, a malformed type pattern, a negative length).
func (c *Compression) Check() error {
	_, err := c.compile()
	return err
}

func (c *Compression) compile() (*compiledCompression, error) {
	c.compiled.once.Do(func() { c.compiled.c, c.compiled.err = compileCompression(c) })
	return c.compiled.c, c.compiled.err
}

func compileCompression(c *Compression) (*compiledCompression, error) {
	out := &compiledCompression{encodings: c.Encodings, minLength: c.MinLength}
	if len(out.encodings) == 0 {
		out.encodings = []Encoding{EncodingZstd, EncodingBrotli, EncodingGzip}
	}
	var errs []error
	for i, e := range out.encodings {
		if encoderIndex(e) < 0 {
			errs = append(errs, fmt.Errorf("encodings[%d]: %q is not one of gzip, br, zstd", i, e))
		}
	}
	switch {
	case c.MinLength < 0:
		errs = append(errs, errors.New("minLength: must not be negative"))
	case c.MinLength == 0:
		out.minLength = DefaultMinCompressLength
	}
	types := c.ContentTypes
	if len(types) == 0 {
		types = DefaultCompressibleTypes
	}
	for i, t := range types {
		if t == "*" || t == "*/*" {
			out.types = append(out.types, typePattern{wild: true})
			out.except = mustPatterns(DefaultIncompressible)
			continue
		}
		p, err := parseTypePattern(t)
		if err != nil {
			errs = append(errs, fmt.Errorf("contentTypes[%d]: %w", i, err))
		}
		out.types = append(out.types, p)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

func parseTypePattern(t string) (typePattern, error) {
	t = strings.ToLower(strings.TrimSpace(t))
	if strings.Count(t, "*") > 1 || !strings.Contains(t, "/") || strings.ContainsAny(t, " ;,") {
		return typePattern{}, fmt.Errorf("%q is not a media type or a pattern with one *", t)
	}
	prefix, suffix, wild := strings.Cut(t, "*")
	return typePattern{prefix: prefix, suffix: suffix, wild: wild}, nil
}

func mustPatterns(ts []string) []typePattern {
	out := make([]typePattern, len(ts))
	for i, t := range ts {
		out[i], _ = parseTypePattern(t)
	}
	return out
}

func (p typePattern) match(mt string) bool {
	if !p.wild {
		return mt == p.prefix
	}
	return len(mt) >= len(p.prefix)+len(p.suffix) && strings.HasPrefix(mt, p.prefix) && strings.HasSuffix(mt, p.suffix)
}

// compressibleType reports whether a Content-Type value is compressed.
func (c *compiledCompression) compressibleType(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.TrimSpace(mt)
	if mt == "" {
		return false
	}
	if !isLowerASCII(mt) {
		mt = strings.ToLower(mt)
	}
	for _, p := range c.except {
		if p.match(mt) {
			return false
		}
	}
	for _, p := range c.types {
		if p.match(mt) {
			return true
		}
	}
	return false
}

func isLowerASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return false
		}
	}
	return true
}

// respHead is what compressible reads of a response's head.
type respHead interface {
	Get(name string) string
}

// eligible decides, from the response's status and headers and the
// request's method and Range, whether the response is compressed for a
// client that accepts a coding (and so says Vary: Accept-Encoding).
// length is the body's Content-Length, -1 when unknown.
func (c *compiledCompression) eligible(code int, h respHead, length int64, head, ranged bool) bool {
	switch {
	case head || ranged:
		return false
	case code < 200 || code == 204 || code == 206 || code == 304:
		return false
	case length >= 0 && length < c.minLength:
		return false
	}
	if ce := h.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		return false
	}
	if h.Get("Content-Range") != "" || containsToken(h.Get("Cache-Control"), "no-transform") {
		return false
	}
	return c.compressibleType(h.Get("Content-Type"))
}

// encoder is a pooled compressor: gzip.Writer, brotli.Writer and
// zstd.Encoder all are.
type encoder interface {
	io.WriteCloser
	Flush() error
	Reset(w io.Writer)
}

func encoderIndex(e Encoding) int {
	switch e {
	case EncodingGzip:
		return 0
	case EncodingBrotli:
		return 1
	case EncodingZstd:
		return 2
	}
	return -1
}

// Levels chosen for a proxy compressing on the fly: fast, most of the
// gain (gzip 5 of 9, brotli 4 of 11, zstd's default, level 3).
var encoderPools = [3]sync.Pool{
	{New: func() any { w, _ := gzip.NewWriterLevel(nil, 5); return w }},
	{New: func() any { return brotli.NewWriterLevel(nil, 4) }},
	{New: func() any {
		w, _ := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(1<<20),
			zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithLowerEncoderMem(true))
		return w
	}},
}

// getEncoder returns a pooled encoder of e writing to w.
func getEncoder(e Encoding, w io.Writer) encoder {
	enc := encoderPools[encoderIndex(e)].Get().(encoder)
	enc.Reset(w)
	return enc
}

// putEncoder returns an encoder to its pool (closed or not: it is Reset
// before its next use).
func putEncoder(e Encoding, enc encoder) {
	enc.Reset(nil)
	encoderPools[encoderIndex(e)].Put(enc)
}

// compressedHeaders changes a response's head for a body compressed with
// e: Content-Encoding set, Content-Length and Accept-Ranges gone, a strong
// ETag made weak.
func compressedHeaders(h Headers, e Encoding) {
	h.Set("Content-Encoding", string(e))
	h.Del("Content-Length")
	h.Del("Accept-Ranges")
	if et := h.Get("Etag"); et != "" && !strings.HasPrefix(et, "W/") {
		h.Set("Etag", "W/"+et)
	}
}

// addVary adds Accept-Encoding to the response's Vary, unless it is there
// (or Vary is "*").
func addVary(h Headers) {
	for _, v := range h.Values("Vary") {
		if containsToken(v, "accept-encoding") || strings.TrimSpace(v) == "*" {
			return
		}
	}
	h.Add("Vary", "Accept-Encoding")
}
