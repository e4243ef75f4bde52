package router

import (
	"strconv"
	"strings"
)

// negotiate picks the coding for a request's Accept-Encoding lines: the
// offered coding with the highest q-value above 0 (an unnamed one gets
// the q of "*", if present), ties going to the earlier offered; "" when
// none is acceptable (identity is then sent, even if the client refused
// it: a 406 helps nobody).
func (c *compiledCompression) negotiate(lines []string) Encoding {
	q := [3]int{-1, -1, -1} // thousandths, by encoderIndex; -1: not named
	star := -1
	for _, line := range lines {
		for line != "" {
			var item string
			item, line, _ = strings.Cut(line, ",")
			name, params, _ := strings.Cut(item, ";")
			name = strings.TrimSpace(name)
			v := parseQ(params)
			switch {
			case name == "*":
				star = v
			case strings.EqualFold(name, "x-gzip"):
				q[0] = max(q[0], v)
			default:
				if i := encoderIndex(Encoding(strings.ToLower(name))); i >= 0 {
					q[i] = max(q[i], v)
				}
			}
		}
	}
	best, bestQ := Encoding(""), 0
	for _, e := range c.encodings {
		v := q[encoderIndex(e)]
		if v < 0 {
			v = star
		}
		if v > bestQ {
			best, bestQ = e, v
		}
	}
	return best
}

// parseQ reads the q parameter of an Accept-Encoding item, in thousandths
// (1000 when absent; 0 when malformed).
func parseQ(params string) int {
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		if !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || f < 0 || f > 1 {
			return 0
		}
		return int(f*1000 + 0.5)
	}
	return 1000
}

// containsToken reports whether a comma-separated header value lists
// token (case-insensitive).
func containsToken(v, token string) bool {
	for v != "" {
		var item string
		item, v, _ = strings.Cut(v, ",")
		item, _, _ = strings.Cut(item, "=")
		if strings.EqualFold(strings.TrimSpace(item), token) {
			return true
		}
	}
	return false
}
