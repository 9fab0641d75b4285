package nats

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	natsio "github.com/nats-io/nats.go"
)

// Defaults of Options. Each applies when its field is zero.
const (
	DefaultSubject           = "wsrpc"
	DefaultHeartbeatInterval = time.Second
	// DefaultHeartbeatExpiry is the default HeartbeatExpiry: three missed
	// heartbeats.
	DefaultHeartbeatExpiry = 3 * DefaultHeartbeatInterval
	DefaultMaxInFlight     = 1024
	DefaultMaxServing      = 1024
	DefaultCallTimeout     = 30 * time.Second
	// DefaultUnavailableTimeout is the default UnavailableTimeout.
	DefaultUnavailableTimeout = 2 * time.Second
	// DefaultMaxPending bounds the messages each subscription of a node
	// holds before NATS drops them (a node that cannot keep up drops, it
	// does not grow).
	DefaultMaxPending = 65536
)

// MaxNameLength bounds Options.Name.
const MaxNameLength = 64

// Options configure a Node. The zero value runs a cluster of one on an
// embedded NATS server.
type Options struct {
	// Name names the node in the cluster: 1 to MaxNameLength letters,
	// digits, '-' or '_'. Default: the host name and process id. Two live
	// nodes must not share a name; a node restarted with its old name
	// replaces its old self.
	Name string

	// URL is the NATS server (or comma-separated servers) to join, e.g.
	// "nats://127.0.0.1:4222". Empty: the node starts a NATS server of its
	// own in the process (see EmbeddedListen).
	URL string
	// NATSOptions are passed to nats.Connect after the options below;
	// for what they do not cover.
	NATSOptions []natsio.Option

	// Credentials of the node's NATS connection (see the nats-server
	// documentation on authentication). Set at most one of User and
	// Password, Token, NKeySeedFile and CredsFile.
	User, Password string
	Token          string
	// NKeySeedFile is a file holding the node's NKey seed ("SU...").
	NKeySeedFile string
	// CredsFile is a NATS credentials file (a user JWT and its NKey seed).
	CredsFile string
	// TLS to NATS: the CA that signed NATS's certificate (a tls:// URL or
	// a server that requires TLS), and a client certificate and key when
	// NATS verifies clients.
	TLSCAFile, TLSCertFile, TLSKeyFile string

	// Secret is the cluster secret (at least MinSecretLength bytes, the
	// same on every node): every message between nodes is signed with it
	// and a message that is not is dropped. Required with a URL or an
	// EmbeddedListen; a node alone on its in-process NATS makes one up.
	Secret string
	// PreviousSecret, during a rotation, is also accepted (never used to
	// sign). Rotate in two rolls: every node with the new secret as
	// PreviousSecret, then every node with it as Secret and the old one
	// as PreviousSecret; then drop PreviousSecret.
	PreviousSecret string

	// UnavailableTimeout bounds how long a call, Emit or Broadcast waits
	// for NATS before failing with ErrClusterUnavailable; with no
	// connection to NATS they fail at once. It is also NATS's ping
	// interval: a silent connection is counted down within two of them.
	// Default DefaultUnavailableTimeout.
	UnavailableTimeout time.Duration
	// EmbeddedListen, with no URL, is the address ("127.0.0.1:4222") where
	// the embedded NATS server accepts other nodes. Empty: it accepts none
	// (the node talks to it in-process), a cluster of one.
	EmbeddedListen string
	// EmbeddedStoreDir, with no URL, turns JetStream on in the embedded
	// NATS server, which stores in this directory: what rooms with
	// history need (see Node.Rooms). Empty: no JetStream.
	EmbeddedStoreDir string

	// Subject is the prefix of every NATS subject the cluster uses (see the
	// package documentation). Nodes with different prefixes on one NATS
	// are different clusters. Default DefaultSubject.
	Subject string

	// HeartbeatInterval is how often the node announces itself. Default
	// DefaultHeartbeatInterval.
	HeartbeatInterval time.Duration
	// HeartbeatExpiry is how long a node may stay silent before the others
	// count it down: the calls waiting on it fail with ErrNodeDown, and
	// broadcasts, counts and listings stop asking it. Default three
	// HeartbeatIntervals.
	HeartbeatExpiry time.Duration

	// MaxInFlight bounds the remote calls this node waits for; past it
	// Call fails with ErrOverloaded. Default DefaultMaxInFlight.
	MaxInFlight int
	// MaxServing bounds the calls from other nodes this node runs at once;
	// past it they fail with ErrOverloaded. Default DefaultMaxServing.
	MaxServing int
	// MaxPending bounds the messages queued on each NATS subscription of
	// the node (the requests to its clients share one queue); past it NATS
	// drops them. Default DefaultMaxPending.
	MaxPending int
	// CallTimeout bounds a remote call whose context has no deadline.
	// Default DefaultCallTimeout.
	CallTimeout time.Duration

	// Logger receives the cluster's logs. Default: discarded.
	Logger *slog.Logger
}

// resolved returns a copy of o with the defaults applied, or an error
// saying what to change.
func (o *Options) resolved() (Options, error) {
	var r Options
	if o != nil {
		r = *o
	}
	if r.Name == "" {
		host, _ := os.Hostname()
		r.Name = sanitize(fmt.Sprintf("%s-%d", host, os.Getpid()))
	}
	if !validName(r.Name) {
		return r, fmt.Errorf("wsrpc cluster: node name %q: use 1 to %d letters, digits, '-' or '_'", r.Name, MaxNameLength)
	}
	if r.Subject == "" {
		r.Subject = DefaultSubject
	}
	if !validSubject(r.Subject) {
		return r, fmt.Errorf("wsrpc cluster: subject prefix %q: use NATS tokens of letters, digits, '-' or '_' separated by dots", r.Subject)
	}
	if r.HeartbeatInterval <= 0 {
		r.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if r.HeartbeatExpiry <= 0 {
		r.HeartbeatExpiry = 3 * r.HeartbeatInterval
	}
	if r.HeartbeatExpiry <= r.HeartbeatInterval {
		return r, fmt.Errorf("wsrpc cluster: HeartbeatExpiry (%v) must be longer than HeartbeatInterval (%v); three intervals is usual", r.HeartbeatExpiry, r.HeartbeatInterval)
	}
	if r.MaxInFlight <= 0 {
		r.MaxInFlight = DefaultMaxInFlight
	}
	if r.MaxServing <= 0 {
		r.MaxServing = DefaultMaxServing
	}
	if r.MaxPending <= 0 {
		r.MaxPending = DefaultMaxPending
	}
	if r.UnavailableTimeout <= 0 {
		r.UnavailableTimeout = DefaultUnavailableTimeout
	}
	if err := r.checkSecrets(); err != nil {
		return r, err
	}
	if r.CallTimeout <= 0 {
		r.CallTimeout = DefaultCallTimeout
	}
	if r.Logger == nil {
		r.Logger = slog.New(slog.DiscardHandler)
	}
	return r, nil
}

// checkSecrets refuses a cluster open to other processes without a
// secret, and secrets too short to resist guessing.
func (r *Options) checkSecrets() error {
	if r.Secret == "" {
		if r.URL != "" || r.EmbeddedListen != "" {
			return errors.New("wsrpc cluster: Options.Secret is required to join other nodes over NATS: give every node the same secret of at least 16 bytes (e.g. from `openssl rand -hex 32`)")
		}
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		r.Secret = hex.EncodeToString(b) // a cluster of one: nobody else signs
	}
	for _, s := range []string{r.Secret, r.PreviousSecret} {
		if s != "" && len(s) < MinSecretLength {
			return fmt.Errorf("wsrpc cluster: a cluster secret must be at least %d bytes", MinSecretLength)
		}
	}
	return nil
}

// secrets returns the secrets a node accepts, the signing one first.
func (r *Options) secrets() []string {
	if r.PreviousSecret == "" || r.PreviousSecret == r.Secret {
		return []string{r.Secret}
	}
	return []string{r.Secret, r.PreviousSecret}
}

// natsOptions returns the options of the node's NATS connection: the
// credentials and TLS of r, then r.NATSOptions.
func (r *Options) natsOptions() ([]natsio.Option, error) {
	var o []natsio.Option
	if r.User != "" || r.Password != "" {
		o = append(o, natsio.UserInfo(r.User, r.Password))
	}
	if r.Token != "" {
		o = append(o, natsio.Token(r.Token))
	}
	if r.NKeySeedFile != "" {
		nk, err := natsio.NkeyOptionFromSeed(r.NKeySeedFile)
		if err != nil {
			return nil, fmt.Errorf("wsrpc cluster: NKeySeedFile: %w", err)
		}
		o = append(o, nk)
	}
	if r.CredsFile != "" {
		o = append(o, natsio.UserCredentials(r.CredsFile))
	}
	if r.TLSCAFile != "" {
		o = append(o, natsio.RootCAs(r.TLSCAFile))
	}
	if r.TLSCertFile != "" || r.TLSKeyFile != "" {
		o = append(o, natsio.ClientCert(r.TLSCertFile, r.TLSKeyFile))
	}
	return append(o, r.NATSOptions...), nil
}

func nameByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-' || b == '_'
}

func validName(s string) bool {
	if len(s) == 0 || len(s) > MaxNameLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !nameByte(s[i]) {
			return false
		}
	}
	return true
}

func validSubject(s string) bool {
	tok := 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '.':
			if tok == 0 {
				return false
			}
			tok = 0
		case nameByte(s[i]):
			tok++
		default:
			return false
		}
	}
	return tok > 0
}

// sanitize turns s into a valid name, replacing other bytes with '-'.
func sanitize(s string) string {
	b := []byte(s)
	for i := range b {
		if !nameByte(b[i]) {
			b[i] = '-'
		}
	}
	if len(b) > MaxNameLength {
		b = b[len(b)-MaxNameLength:]
	}
	return string(b)
}
