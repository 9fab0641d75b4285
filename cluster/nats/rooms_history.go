package nats

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	natsio "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wsrpc/wsrpc-go/rooms"
)

// The history of rooms across the cluster: one JetStream stream over the
// subjects P.hroom.<token> (file storage), which republishes each event
// it stored, with its sequence, on P.hlive.<token>, to which the nodes
// with members of the room subscribe. An event's offset is its stream
// sequence; the epoch is the stream's creation time, so a stream deleted
// and made again starts a new history.

// publishStored stores event in the rooms' stream and returns its
// position once JetStream acknowledged it; the stream then republishes
// it to the nodes with members, this one too.
func (b *roomBackend) publishStored(ctx context.Context, room string, event []byte, hist *rooms.History) (rooms.Position, error) {
	if err := b.n.canPublish(event); err != nil {
		return rooms.Position{}, err
	}
	msg := &natsio.Msg{Subject: b.n.subj.roomStored(room), Data: event}
	// The message id lets JetStream drop a copy its client publishes
	// again after a lost acknowledgement.
	id := b.n.auth.signNext(msg)
	for again := true; ; again = false {
		_, epoch, err := b.open(ctx, hist)
		if err != nil {
			return rooms.Position{}, err
		}
		b.stream.mu.Lock()
		js := b.stream.js
		b.stream.mu.Unlock()
		ack, err := js.PublishMsg(ctx, msg, jetstream.WithMsgID(id))
		switch {
		case err == nil:
			return rooms.Position{Epoch: epoch, Offset: ack.Sequence}, nil
		case ctx.Err() != nil:
			return rooms.Position{}, ctx.Err()
		case again && b.gone(err):
			continue // the stream was deleted: make it again, a new epoch
		}
		return rooms.Position{}, fmt.Errorf("%w: JetStream did not store the event: %w", ErrClusterUnavailable, err)
	}
}

// deliverStored checks an event the stream republished and hands it to
// the members here with its position. The sequence is JetStream's (not
// signed: keep P.hlive.> for the NATS server and the nodes).
func (b *roomBackend) deliverStored(rs roomSub, msg *natsio.Msg) {
	seq, err := strconv.ParseUint(msg.Header.Get(jetstream.SequenceHeader), 10, 64)
	if err != nil || msg.Header.Get(jetstream.SubjectHeader) != b.n.subj.roomStored(rs.room) {
		b.n.reject(msg, errors.New("wsrpc cluster: a room event without its stream sequence"))
		return
	}
	stored := *msg
	stored.Subject = b.n.subj.roomStored(rs.room) // what it was signed for
	if !b.n.checkEvent(&stored, "hroom", true) {
		return
	}
	ctx, cancel := context.WithTimeout(b.n.ctx, b.n.opts.UnavailableTimeout)
	defer cancel()
	_, epoch, err := b.open(ctx, rs.hist)
	if err != nil {
		b.n.log.Warn("wsrpc cluster: room event dropped", "room", rs.room, "err", err)
		return
	}
	b.n.stats.roomEvents.Add(1)
	b.sink.Deliver(rs.room, rooms.Position{Epoch: epoch, Offset: seq}, msg.Data)
}

// Since implements rooms.Backend from the rooms' stream: the room's
// events after pos, read in batches (see read), each checked as it was
// signed. The history is lost
// when pos is of another epoch, or when its event is no longer stored
// (the events after it may have been dropped with it). A stream deleted
// meanwhile is made again, with a new epoch.
func (b *roomBackend) Since(ctx context.Context, room string, pos rooms.Position, hist *rooms.History, maxBytes int) ([]rooms.Stored, rooms.Position, bool, error) {
	evs, head, lost, err := b.since(ctx, room, pos, hist, maxBytes)
	if err != nil && b.gone(err) {
		evs, head, lost, err = b.since(ctx, room, pos, hist, maxBytes)
	}
	return evs, head, lost, err
}

func (b *roomBackend) since(ctx context.Context, room string, pos rooms.Position, hist *rooms.History, maxBytes int) ([]rooms.Stored, rooms.Position, bool, error) {
	st, epoch, err := b.open(ctx, hist)
	if err != nil {
		return nil, rooms.Position{}, false, err
	}
	subject := b.n.subj.roomStored(room)
	head := rooms.Position{Epoch: epoch}
	last, err := st.GetLastMsgForSubject(ctx, subject)
	switch {
	case err == nil:
		head.Offset = last.Sequence
	case !errors.Is(err, jetstream.ErrMsgNotFound):
		return nil, head, false, fmt.Errorf("%w: read the room's history: %w", ErrClusterUnavailable, err)
	}
	switch {
	case pos.IsZero():
		return nil, head, false, nil
	case pos.Epoch != epoch:
		return nil, head, true, nil
	case pos.Offset >= head.Offset:
		return nil, head, false, nil
	}
	if lost, err := b.dropped(ctx, st, subject, pos.Offset); err != nil || lost {
		return nil, head, lost, err
	}
	evs, lost, err := b.read(ctx, st, subject, rooms.Position{Epoch: epoch, Offset: pos.Offset}, head, hist, maxBytes)
	return evs, head, lost, err
}

// readBatch is how many events read asks JetStream for at a time.
const readBatch = 256

// read returns the events of subject after from up to head, at most
// about maxBytes of them but at least one, each checked as it was
// signed; lost when the room's own bounds (hist) no longer keep the
// event after from: more than MaxEvents came after it, it is older than
// MaxAge, or the events after it hold more than MaxBytes. They come
// through a consumer of the stream's (kept in memory, without
// acknowledgements, deleted afterwards) in batches of readBatch: a few
// requests for a chunk, not one per event; past the chunk only their
// sizes count, up to MaxBytes.
func (b *roomBackend) read(ctx context.Context, st jetstream.Stream, subject string, from, head rooms.Position, hist *rooms.History, maxBytes int) (out []rooms.Stored, lost bool, err error) {
	cons, err := st.CreateConsumer(ctx, jetstream.ConsumerConfig{
		Description:       "wsrpc rooms: a resume",
		FilterSubject:     subject,
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       from.Offset + 1,
		AckPolicy:         jetstream.AckNonePolicy,
		MemoryStorage:     true,
		InactiveThreshold: readInactive,
	})
	if err != nil {
		return nil, false, fmt.Errorf("%w: read the room's history: %w", ErrClusterUnavailable, err)
	}
	defer func() {
		// Deleted at once; else JetStream does it after readInactive.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), b.n.opts.UnavailableTimeout)
		defer cancel()
		_ = st.DeleteConsumer(dctx, cons.CachedInfo().Name)
	}()
	if cons.CachedInfo().NumPending > uint64(hist.MaxEvents) {
		return nil, true, nil
	}
	oldest := time.Now().Add(-hist.MaxAge)
	size, total := 0, int64(0)
	for last := from.Offset; last < head.Offset; {
		batch, err := cons.FetchNoWait(readBatch)
		if err != nil {
			return nil, false, fmt.Errorf("%w: read the room's history: %w", ErrClusterUnavailable, err)
		}
		got := 0
		for m := range batch.Messages() {
			got++
			md, err := m.Metadata()
			if err != nil || md.Sequence.Stream <= last || md.Sequence.Stream > head.Offset {
				continue // past head: a live event, not part of the replay
			}
			total += int64(len(m.Data()))
			if (last == from.Offset && md.Timestamp.Before(oldest)) || total > hist.MaxBytes {
				return nil, true, nil
			}
			last = md.Sequence.Stream
			if len(out) > 0 && size >= maxBytes {
				continue // the next chunk's: counted, not kept
			}
			msg := &natsio.Msg{Subject: m.Subject(), Header: m.Headers(), Data: m.Data()}
			if _, err := b.n.auth.authentic(msg, subject); err != nil {
				b.n.reject(msg, err)
				continue
			}
			if !b.n.checkEventBody(msg, "") {
				continue
			}
			out = append(out, rooms.Stored{Pos: rooms.Position{Epoch: from.Epoch, Offset: md.Sequence.Stream}, Event: msg.Data})
			size += len(msg.Data)
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return nil, false, fmt.Errorf("%w: read the room's history: %w", ErrClusterUnavailable, err)
		}
		if got == 0 {
			break // nothing more stored (dropped meanwhile)
		}
	}
	return out, false, nil
}

// readInactive is when JetStream deletes a consumer of read's that its
// node did not (it died meanwhile).
const readInactive = 30 * time.Second

// dropped reports whether the stream no longer has the room's event at
// seq (0: the room's first), so that those after it may be gone too.
func (b *roomBackend) dropped(ctx context.Context, st jetstream.Stream, subject string, seq uint64) (bool, error) {
	if seq == 0 {
		info, err := st.Info(ctx)
		if err != nil {
			return false, fmt.Errorf("%w: read the room's history: %w", ErrClusterUnavailable, err)
		}
		return info.State.FirstSeq > 1, nil
	}
	m, err := st.GetMsg(ctx, seq)
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("%w: read the room's history: %w", ErrClusterUnavailable, err)
	}
	return m.Subject != subject, nil
}
