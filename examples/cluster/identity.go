// This file owns the example's client ids. The newer connection of an id
// replaces the older, on whichever node, so an id must be proven, never
// merely claimed: a client proves it with a token that names the id, an
// expiry and an HMAC-SHA256 of both under the secret every node shares
// (-id-secret or WSRPC_ID_SECRET). -mint-token makes such tokens.
// -insecure-ids restores claimed ids, for local demos only.

package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wsrpc/wsrpc-go/server"
)

// envIDSecret is the environment variable holding the id secret when the
// -id-secret flag is not given (the flag shows in the process list; the
// environment does not).
const envIDSecret = "WSRPC_ID_SECRET"

// minIDSecretLength is the shortest accepted id secret, in bytes.
const minIDSecretLength = 16

// maxTokenLength bounds a token: an id of server.MaxIDLength bytes, an
// expiry and a signature fit well within it.
const maxTokenLength = 512

// tokenDomain separates this example's signatures from any other use of the
// same secret.
const tokenDomain = "wsrpc-cluster-id-v1\x00"

// Why a claimed id is refused. The upgrade request gets HTTP 403 either
// way (the reason reaches the server's OnAuthFail hook, never the client),
// and the connection that holds the id stays.
var (
	errIDWithoutToken = errors.New("an id was claimed without a token")
	errNoIDSecret     = errors.New("a token was sent, but this node has no id secret to check it")
	errBadToken       = errors.New("the token is malformed or its signature is wrong")
	errTokenExpired   = errors.New("the token has expired")
	errTokenForOther  = errors.New("the token is for another id than the one claimed")
)

// idFlags are the command-line flags of ids.
type idFlags struct {
	secret   string
	insecure bool
	mint     string
	ttl      time.Duration
}

// addIDFlags defines the flags of ids on fs.
func addIDFlags(fs *flag.FlagSet) *idFlags {
	f := &idFlags{}
	fs.StringVar(&f.secret, "id-secret", "", "secret that signs and checks id tokens, at least 16 bytes, the same on every node (default $"+envIDSecret+"; without one, clients cannot claim ids and each connection gets a generated one)")
	fs.BoolVar(&f.insecure, "insecure-ids", false, "INSECURE, for local demos only: take ?id= and X-Client-Id as claimed, without a token, so any client can take any id and disconnect its owner")
	fs.StringVar(&f.mint, "mint-token", "", "print a token proving this id, signed with the id secret, and exit")
	fs.DurationVar(&f.ttl, "token-ttl", 24*time.Hour, "how long a token made by -mint-token is valid")
	return f
}

// ids decides the id of each connection (server.Options.Identify).
type ids struct {
	secret   []byte // nil: no token can be checked, so no id can be claimed
	insecure bool   // claimed ids are taken as they come
	now      func() time.Time
}

// resolve makes the ids the flags and the environment ask for, and logs
// what they mean. With -mint-token it writes the token to w instead and
// reports done.
func (f *idFlags) resolve(w io.Writer, getenv func(string) string, log *slog.Logger) (a *ids, done bool, err error) {
	secret := f.secret
	if secret == "" {
		secret = getenv(envIDSecret)
	}
	a = &ids{insecure: f.insecure, now: time.Now}
	switch {
	case f.insecure && secret != "":
		return nil, false, errors.New("-insecure-ids and an id secret exclude each other: drop one")
	case secret != "" && len(secret) < minIDSecretLength:
		return nil, false, fmt.Errorf("the id secret is %d bytes: use at least %d random bytes (e.g. od -An -tx1 -N32 /dev/urandom | tr -d ' \\n')", len(secret), minIDSecretLength)
	case secret != "":
		a.secret = []byte(secret)
	}
	if f.mint != "" {
		if a.secret == nil {
			return nil, false, errors.New("-mint-token needs the id secret: -id-secret or " + envIDSecret)
		}
		tok, err := a.mint(f.mint, f.ttl)
		if err != nil {
			return nil, false, err
		}
		_, err = fmt.Fprintln(w, tok)
		return nil, true, err
	}
	switch {
	case a.insecure:
		log.Warn("INSECURE -insecure-ids: any client can claim any id with ?id= or X-Client-Id and disconnect its owner; for local demos only, never on a network")
	case a.secret == nil:
		log.Warn("no id secret (-id-secret or " + envIDSecret + "): clients cannot claim ids, each connection gets a generated one; set the same secret on every node and mint tokens with -mint-token ID")
	default:
		log.Info("ids are proven by tokens: connect with ?token=TOKEN or Authorization: Bearer TOKEN; mint one with -mint-token ID")
	}
	return a, false, nil
}

// mint returns a token proving id until ttl from now.
func (a *ids) mint(id string, ttl time.Duration) (string, error) {
	if !server.ValidID(id) {
		return "", fmt.Errorf("id %q: an id is 1 to %d visible ASCII characters", id, server.MaxIDLength)
	}
	if ttl <= 0 {
		return "", errors.New("-token-ttl must be positive")
	}
	exp := strconv.FormatInt(a.now().Add(ttl).Unix(), 10)
	return id + "." + exp + "." + base64.RawURLEncoding.EncodeToString(a.sign(id, exp)), nil
}

func (a *ids) sign(id, exp string) []byte {
	m := hmac.New(sha256.New, a.secret)
	m.Write([]byte(tokenDomain))
	m.Write([]byte(id))
	m.Write([]byte{0})
	m.Write([]byte(exp))
	return m.Sum(nil)
}

// verify returns the id tok proves.
func (a *ids) verify(tok string) (string, error) {
	if a.secret == nil {
		return "", errNoIDSecret
	}
	if len(tok) > maxTokenLength {
		return "", errBadToken
	}
	// id.expiry.signature: the id may hold dots, the other two do not.
	rest, sig, ok1 := cutLast(tok)
	id, exp, ok2 := cutLast(rest)
	if !ok1 || !ok2 || !server.ValidID(id) {
		return "", errBadToken
	}
	n, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || strconv.FormatInt(n, 10) != exp { // one spelling per expiry
		return "", errBadToken
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, a.sign(id, exp)) {
		return "", errBadToken
	}
	if a.now().Unix() >= n {
		return "", errTokenExpired
	}
	return id, nil
}

// cutLast splits s around its last dot.
func cutLast(s string) (before, after string, ok bool) {
	i := strings.LastIndexByte(s, '.')
	if i < 0 {
		return "", "", false
	}
	return s[:i], s[i+1:], true
}

// identify is the server's Identify: the id the request's token proves
// (?token=, else Authorization: Bearer); an id claimed with ?id= or
// X-Client-Id must be that one. A request that claims nothing gets a
// generated id. With -insecure-ids the claimed id is taken as it comes.
func (a *ids) identify(r *http.Request) (string, any, error) {
	q := r.URL.Query()
	claimed := q.Get("id")
	if claimed == "" {
		claimed = r.Header.Get("X-Client-Id")
	}
	if a.insecure {
		return claimed, nil, nil
	}
	tok := q.Get("token")
	if tok == "" {
		if h := r.Header.Get("Authorization"); len(h) > len("Bearer ") && strings.EqualFold(h[:len("Bearer ")], "Bearer ") {
			tok = h[len("Bearer "):]
		}
	}
	if tok == "" {
		if claimed != "" {
			return "", nil, errIDWithoutToken
		}
		return "", nil, nil
	}
	id, err := a.verify(tok)
	if err != nil {
		return "", nil, err
	}
	if claimed != "" && claimed != id {
		return "", nil, errTokenForOther
	}
	return id, nil, nil
}
