package router

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	// go-htpasswd is the well-kept Go reader of Apache htpasswd files: it
	// checks bcrypt (through golang.org/x/crypto), SHA1, SSHA, apr1 MD5 and
	// crypt SHA-256/512 with the formats' own code, so no hash is written
	// here.
	htpasswd "github.com/tg123/go-htpasswd"
)

// htpasswdSystems are the hash formats accepted: every one the library
// knows except plain text.
var htpasswdSystems = []htpasswd.PasswdParser{htpasswd.AcceptMd5, htpasswd.AcceptSha, htpasswd.AcceptBcrypt,
	htpasswd.AcceptSsha, htpasswd.AcceptCryptSha}

// basicStep checks HTTP Basic credentials.
type basicStep struct {
	file       *htpasswd.File
	challenge  string
	userHeader string
	strip      bool
	// ok caches the Authorization values that verified, with their user.
	ok *verifiedCache[string]
}

// basicCacheTTL bounds how long a verified credential is trusted without
// checking its hash again.
const basicCacheTTL = 10 * time.Minute

func compileBasicAuth(b *BasicAuth) (*basicStep, error) {
	sc := bufio.NewScanner(strings.NewReader(b.Htpasswd))
	n, users := 0, 0
	var entries strings.Builder // the lines without comments, for the library
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, hash, ok := strings.Cut(line, ":")
		if !ok || user == "" {
			return nil, fmt.Errorf("basicAuth.htpasswd: line %d: want user:hash", n)
		}
		if !knownHash(hash) {
			return nil, fmt.Errorf("basicAuth.htpasswd: line %d (user %q): unsupported or malformed hash (bcrypt, SHA1, SSHA, apr1, crypt SHA-256/512; never plain text)", n, user)
		}
		users++
		entries.WriteString(line + "\n")
	}
	if users == 0 {
		return nil, errors.New("basicAuth.htpasswd: no users")
	}
	var bad error
	f, err := htpasswd.NewFromReader(strings.NewReader(entries.String()), htpasswdSystems, func(err error) { bad = err })
	if err != nil || bad != nil {
		return nil, errors.New("basicAuth.htpasswd: unreadable")
	}
	realm := b.Realm
	if realm == "" {
		realm = "Restricted"
	}
	return &basicStep{file: f, challenge: `Basic realm=` + strconv.Quote(realm) + `, charset="UTF-8"`,
		userHeader: canonicalName(b.UserHeader), strip: b.StripAuthorization, ok: newVerifiedCache[string]()}, nil
}

func knownHash(hash string) bool {
	for _, p := range htpasswdSystems {
		if m, err := p(hash); err == nil && m != nil {
			return true
		}
	}
	return false
}

func (s *basicStep) check(_ context.Context, x *Exchange, resp Headers, _ *policyState) (int, string) {
	if s.userHeader != "" {
		x.Header.Del(s.userHeader)
	}
	auth := x.Header.Get("Authorization")
	now := time.Now()
	user, ok := s.ok.get(auth, now)
	if !ok {
		user, ok = s.verify(auth)
		if ok {
			s.ok.put(auth, user, now.Add(basicCacheTTL))
		}
	}
	if !ok {
		resp.Set("WWW-Authenticate", s.challenge)
		return http.StatusUnauthorized, "authentication required"
	}
	if s.userHeader != "" {
		x.Header.Set(s.userHeader, user)
	}
	if s.strip {
		x.Header.Del("Authorization")
	}
	return 0, ""
}

// verify checks an Authorization header value against the users.
func (s *basicStep) verify(auth string) (string, bool) {
	const prefix = "basic "
	if len(auth) <= len(prefix) || !strings.EqualFold(auth[:len(prefix)], prefix) {
		return "", false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(auth[len(prefix):]))
	if err != nil {
		return "", false
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	if !ok || !s.file.Match(user, pass) {
		return "", false
	}
	return user, true
}
