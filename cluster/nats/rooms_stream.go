package nats

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	natsio "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wsrpc/wsrpc-go/rooms"
)

// The rooms' stream: one JetStream stream over the subjects
// P.hroom.<token>. Its limits are a ceiling over the History of every
// room any node used: per room (subject) the largest MaxEvents (plus
// one) and MaxAge (twice), for the whole stream streamBytesPerRoom times
// the largest MaxBytes. A node that opens it for a room with larger bounds raises
// them; no node lowers them. Each room's own bounds are applied when its
// history is read (see read), so a resume sees what the room's History
// says whatever the ceiling.

// streamOf is the rooms' stream, opened on first use.
type streamOf struct {
	mu     sync.Mutex // protects the following
	js     jetstream.JetStream
	stream jetstream.Stream
	epoch  string
	limits streamLimits // the stream's, as this node last saw or set them
}

// streamLimits are the limits of the rooms' stream that rooms' History
// raise.
type streamLimits struct {
	events int64         // per subject
	age    time.Duration // 0: none
	bytes  int64         // whole stream, -1: none
}

// streamBytesPerRoom scales History.MaxBytes to the whole stream's
// bound: JetStream bounds a subject's events by count, not by bytes.
const streamBytesPerRoom = 1024

// streamBytes is the stream's bound in bytes for rooms of maxBytes: -1
// (none) past what int64 holds.
func streamBytes(maxBytes int64) int64 {
	if maxBytes > math.MaxInt64/streamBytesPerRoom {
		return -1
	}
	return maxBytes * streamBytesPerRoom
}

// limitsOf returns the stream limits that hist needs: one event more
// than the room keeps, for twice as long, so that the event a client saw
// last is still stored when the room's bounds still keep the ones after
// it (a resume checks that it is there: see Since).
func limitsOf(hist *rooms.History) streamLimits {
	l := streamLimits{events: int64(hist.MaxEvents) + 1, age: 2 * hist.MaxAge, bytes: streamBytes(hist.MaxBytes)}
	if hist.MaxAge > math.MaxInt64/2 {
		l.age = 0
	}
	return l
}

// covers reports whether l is at least need in every limit.
func (l streamLimits) covers(need streamLimits) bool {
	return l.events >= need.events && (l.age == 0 || l.age >= need.age) && (l.bytes < 0 || l.bytes >= need.bytes)
}

// raised returns l raised to need where it is lower.
func (l streamLimits) raised(need streamLimits) streamLimits {
	l.events = max(l.events, need.events)
	if l.age != 0 {
		l.age = max(l.age, need.age)
	}
	if l.bytes >= 0 && (need.bytes < 0 || need.bytes > l.bytes) {
		l.bytes = need.bytes
	}
	return l
}

// limitsOfConfig returns the limits of a stream's configuration.
func limitsOfConfig(c jetstream.StreamConfig) streamLimits {
	return streamLimits{events: c.MaxMsgsPerSubject, age: c.MaxAge, bytes: c.MaxBytes}
}

// set puts l in c.
func (l streamLimits) set(c *jetstream.StreamConfig) {
	c.MaxMsgsPerSubject, c.MaxAge, c.MaxBytes = l.events, l.age, l.bytes
}

// jsInsufficientResources is JetStream's error code for a stream whose
// limits its storage cannot hold.
const jsInsufficientResources jetstream.ErrorCode = 10047

// streamName is the name of the rooms' stream of the cluster prefix.
func streamName(prefix string) string {
	return "WSRPC_ROOMS_" + strings.NewReplacer(".", "_", "*", "_", ">", "_").Replace(prefix)
}

// open returns the rooms' stream and its epoch, creating the stream on
// first use, and raising its limits when hist needs more.
func (b *roomBackend) open(ctx context.Context, hist *rooms.History) (jetstream.Stream, string, error) {
	s := &b.stream
	s.mu.Lock()
	defer s.mu.Unlock()
	need := limitsOf(hist)
	if s.stream != nil && s.limits.covers(need) {
		return s.stream, s.epoch, nil
	}
	if s.js == nil {
		js, err := jetstream.New(b.n.nc)
		if err != nil {
			return nil, "", fmt.Errorf("wsrpc cluster: JetStream: %w", err)
		}
		s.js = js
	}
	st, err := b.ensure(ctx, need)
	var jerr jetstream.JetStreamError
	switch {
	case errors.As(err, &jerr) && jerr.APIError() != nil && jerr.APIError().ErrorCode == jsInsufficientResources:
		return nil, "", fmt.Errorf("%w: JetStream has not the storage the rooms' stream may take (%d times the largest History.MaxBytes): lower MaxBytes, or give JetStream more (max_file_store): %w", ErrClusterUnavailable, streamBytesPerRoom, err)
	case err != nil:
		return nil, "", fmt.Errorf("%w: the rooms' JetStream stream: %w (does NATS run with JetStream enabled?)", ErrClusterUnavailable, err)
	}
	info := st.CachedInfo()
	s.stream, s.limits = st, limitsOfConfig(info.Config)
	s.epoch = strconv.FormatInt(info.Created.UnixNano(), 36)
	return st, s.epoch, nil
}

// ensure returns the rooms' stream with limits covering need: made with
// them when there is none, raised when it has less (b.stream.mu held).
func (b *roomBackend) ensure(ctx context.Context, need streamLimits) (jetstream.Stream, error) {
	js, name := b.stream.js, streamName(b.n.subj.prefix)
	// Again when another node made the stream meanwhile, or changed its
	// limits between our reading and our update (JetStream has no
	// compare-and-set of a stream's configuration: the last update wins,
	// so each node checks that its own still holds).
	for range 4 {
		st, err := js.Stream(ctx, name)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			cfg := b.streamConfig()
			need.set(&cfg)
			st, err = js.CreateStream(ctx, cfg)
			if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
				continue
			}
			return st, err
		}
		if err != nil {
			return nil, err
		}
		cfg := st.CachedInfo().Config
		have := limitsOfConfig(cfg)
		if have.covers(need) {
			return st, nil
		}
		have.raised(need).set(&cfg)
		if _, err := js.UpdateStream(ctx, cfg); err != nil {
			return nil, err
		}
	}
	return nil, errors.New("its limits kept changing while they were raised")
}

// streamConfig is the rooms' stream without its limits.
func (b *roomBackend) streamConfig() jetstream.StreamConfig {
	subj := b.n.subj
	return jetstream.StreamConfig{
		Name:        streamName(subj.prefix),
		Description: "wsrpc rooms' history",
		Subjects:    []string{subj.roomsStored() + ">"},
		Storage:     jetstream.FileStorage,
		Discard:     jetstream.DiscardOld,
		RePublish:   &jetstream.RePublish{Source: subj.roomsStored() + ">", Destination: subj.roomsLive() + ">"},
	}
}

// gone reports whether err says that the rooms' stream is no more (an
// operator deleted it, or NATS lost its store); then the next open makes
// it again, with a new epoch.
func (b *roomBackend) gone(err error) bool {
	if !errors.Is(err, jetstream.ErrStreamNotFound) && !errors.Is(err, jetstream.ErrNoStreamResponse) && !errors.Is(err, natsio.ErrNoResponders) {
		return false
	}
	b.stream.mu.Lock()
	defer b.stream.mu.Unlock()
	b.stream.stream = nil
	return true
}
