package main

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const testSecret = "0123456789abcdef0123456789abcdef"

func testIDs(secret string, now time.Time) *ids {
	a := &ids{now: func() time.Time { return now }}
	if secret != "" {
		a.secret = []byte(secret)
	}
	return a
}

func mustMint(t *testing.T, a *ids, id string, ttl time.Duration) string {
	t.Helper()
	tok, err := a.mint(id, ttl)
	require.NoError(t, err)
	return tok
}

// TestIdentify: an id is admitted only with a token of the shared secret
// that proves it and has not expired; everything else claiming an id is
// refused.
func TestIdentify(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	a := testIDs(testSecret, now)
	other := testIDs("another secret, 16+ bytes long", now)
	alice := mustMint(t, a, "alice", time.Hour)
	dotted := mustMint(t, a, "team.alice", time.Hour)
	expired := mustMint(t, testIDs(testSecret, now.Add(-2*time.Hour)), "alice", time.Hour)
	justExpired := mustMint(t, testIDs(testSecret, now.Add(-time.Hour)), "alice", time.Hour)
	id, exp, _ := strings.Cut(alice, ".")
	exp, sig, _ := strings.Cut(exp, ".")
	flipped := []byte(sig)
	flipped[0] ^= 1

	for _, tc := range []struct {
		name    string
		query   url.Values
		header  http.Header
		wantID  string
		wantErr error
	}{
		{name: "nothing claimed: a generated id"},
		{name: "token in the query", query: url.Values{"token": {alice}}, wantID: "alice"},
		{name: "token as a bearer", header: http.Header{"Authorization": {"Bearer " + alice}}, wantID: "alice"},
		{name: "bearer spelt in lower case", header: http.Header{"Authorization": {"bearer " + alice}}, wantID: "alice"},
		{name: "an id with dots", query: url.Values{"token": {dotted}}, wantID: "team.alice"},
		{name: "token and the id it proves", query: url.Values{"token": {alice}, "id": {"alice"}}, wantID: "alice"},
		{name: "token and X-Client-Id it proves", query: url.Values{"token": {alice}}, header: http.Header{"X-Client-Id": {"alice"}}, wantID: "alice"},

		{name: "?id= without a token", query: url.Values{"id": {"alice"}}, wantErr: errIDWithoutToken},
		{name: "X-Client-Id without a token", header: http.Header{"X-Client-Id": {"alice"}}, wantErr: errIDWithoutToken},
		{name: "empty bearer", query: url.Values{"id": {"alice"}}, header: http.Header{"Authorization": {"Bearer "}}, wantErr: errIDWithoutToken},
		{name: "token for another id", query: url.Values{"token": {mustMint(t, a, "mallory", time.Hour)}, "id": {"alice"}}, wantErr: errTokenForOther},
		{name: "token for another id, by header", query: url.Values{"token": {mustMint(t, a, "mallory", time.Hour)}}, header: http.Header{"X-Client-Id": {"alice"}}, wantErr: errTokenForOther},
		{name: "another secret", query: url.Values{"token": {mustMint(t, other, "alice", time.Hour)}}, wantErr: errBadToken},
		{name: "a flipped signature bit", query: url.Values{"token": {id + "." + exp + "." + string(flipped)}}, wantErr: errBadToken},
		{name: "the id changed", query: url.Values{"token": {"alicf." + exp + "." + sig}}, wantErr: errBadToken},
		{name: "the expiry pushed back", query: url.Values{"token": {id + ".9" + exp + "." + sig}}, wantErr: errBadToken},
		{name: "the expiry spelt another way", query: url.Values{"token": {id + ".0" + exp + "." + sig}}, wantErr: errBadToken},
		{name: "expired", query: url.Values{"token": {expired}}, wantErr: errTokenExpired},
		{name: "expiring this second", query: url.Values{"token": {justExpired}}, wantErr: errTokenExpired},
		{name: "no signature", query: url.Values{"token": {id + "." + exp}}, wantErr: errBadToken},
		{name: "a bare id", query: url.Values{"token": {"alice"}}, wantErr: errBadToken},
		{name: "empty parts", query: url.Values{"token": {".."}}, wantErr: errBadToken},
		{name: "a huge token", query: url.Values{"token": {strings.Repeat("a", 1<<20) + "." + exp + "." + sig}}, wantErr: errBadToken},
		{name: "an id with a space", query: url.Values{"token": {"al ice." + exp + "." + sig}}, wantErr: errBadToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/ws/?"+tc.query.Encode(), nil)
			for k, v := range tc.header {
				r.Header[k] = v
			}
			got, value, err := a.identify(r)
			require.Nil(t, value)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				require.Empty(t, got)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.wantID, got)
		})
	}
}

// TestIdentifyWithoutSecret: a node without a secret admits no claimed id
// and no token; -insecure-ids takes claimed ids as they come.
func TestIdentifyWithoutSecret(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	tok := mustMint(t, testIDs(testSecret, now), "alice", time.Hour)
	req := func(q string) *http.Request { return httptest.NewRequest(http.MethodGet, "/ws/?"+q, nil) }

	none := testIDs("", now)
	_, _, err := none.identify(req("id=alice"))
	require.ErrorIs(t, err, errIDWithoutToken)
	_, _, err = none.identify(req("token=" + url.QueryEscape(tok)))
	require.ErrorIs(t, err, errNoIDSecret)
	id, _, err := none.identify(req(""))
	require.NoError(t, err)
	require.Empty(t, id, "a generated id")

	insecure := &ids{insecure: true, now: time.Now}
	id, _, err = insecure.identify(req("id=alice"))
	require.NoError(t, err)
	require.Equal(t, "alice", id)
}

// TestResolve: the flags and the environment choose the mode; a short
// secret, or a secret with -insecure-ids, is an error; -mint-token prints a
// token the nodes accept and stops.
func TestResolve(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))

	for _, tc := range []struct {
		name    string
		flags   idFlags
		env     map[string]string
		wantErr string
		wantLog string
	}{
		{name: "default: no secret", wantLog: "clients cannot claim ids"},
		{name: "secret from the environment", env: map[string]string{envIDSecret: testSecret}, wantLog: "ids are proven by tokens"},
		{name: "secret from the flag", flags: idFlags{secret: testSecret}, wantLog: "ids are proven by tokens"},
		{name: "insecure", flags: idFlags{insecure: true}, wantLog: "INSECURE"},
		{name: "short secret", flags: idFlags{secret: "short"}, wantErr: "at least 16"},
		{name: "insecure with a secret", flags: idFlags{insecure: true}, env: map[string]string{envIDSecret: testSecret}, wantErr: "exclude each other"},
		{name: "mint without a secret", flags: idFlags{mint: "alice", ttl: time.Hour}, wantErr: "needs the id secret"},
		{name: "mint an invalid id", flags: idFlags{secret: testSecret, mint: "al ice", ttl: time.Hour}, wantErr: "visible ASCII"},
		{name: "mint with no lifetime", flags: idFlags{secret: testSecret, mint: "alice"}, wantErr: "must be positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs.Reset()
			a, done, err := tc.flags.resolve(io.Discard, env(tc.env), log)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.False(t, done)
			require.NotNil(t, a)
			require.Contains(t, logs.String(), tc.wantLog)
		})
	}

	var out bytes.Buffer
	f := idFlags{mint: "alice", ttl: time.Minute}
	a, done, err := f.resolve(&out, env(map[string]string{envIDSecret: testSecret}), log)
	require.NoError(t, err)
	require.True(t, done)
	require.Nil(t, a)
	node := testIDs(testSecret, time.Now())
	id, _, err := node.identify(httptest.NewRequest(http.MethodGet, "/ws/?token="+url.QueryEscape(strings.TrimSpace(out.String())), nil))
	require.NoError(t, err)
	require.Equal(t, "alice", id)
}

// FuzzVerify: no token is accepted unless it is exactly what mint makes.
func FuzzVerify(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	a := testIDs(testSecret, now)
	tok, err := a.mint("alice", time.Hour)
	require.NoError(f, err)
	f.Add(tok)
	f.Add("alice.1800003600.")
	f.Add("..")
	f.Fuzz(func(t *testing.T, tok string) {
		id, err := a.verify(tok)
		if err != nil {
			return
		}
		again, err := a.mint(id, time.Hour)
		require.NoError(t, err)
		require.Equal(t, again, tok, "an accepted token is the one mint makes for its id")
	})
}
