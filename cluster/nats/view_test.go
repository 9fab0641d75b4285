package nats

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The view applies a node's announcements in order and fetches its
// snapshot when it cannot: a node it does not know, a gap, a heartbeat
// ahead of what it applied, a restart.
func TestViewAppliesAnnouncementsInOrder(t *testing.T) {
	join := func(seq uint64, id string, at int64) presenceMsg {
		return presenceMsg{Kind: kindJoin, Node: "a", Inst: "1", Seq: seq, ID: id, At: at}
	}
	leave := func(seq uint64, id string) presenceMsg {
		return presenceMsg{Kind: kindLeave, Node: "a", Inst: "1", Seq: seq, ID: id}
	}
	hb := func(inst string, seq uint64) presenceMsg {
		return presenceMsg{Kind: kindHeartbeat, Node: "a", Inst: inst, Seq: seq}
	}
	tests := []struct {
		name      string
		snapshot  []member // installed after the first message, at seq 1
		msgs      []presenceMsg
		wantFetch []bool
		wantDown  []bool
		want      map[string]string
	}{
		{
			name:      "in order",
			snapshot:  []member{{ID: "x", At: 1}},
			msgs:      []presenceMsg{hb("1", 1), join(2, "y", 2), leave(3, "x"), hb("1", 3)},
			wantFetch: []bool{true, false, false, false},
			want:      map[string]string{"y": "a"},
		},
		{
			name:      "a join lost: the next one fetches",
			snapshot:  []member{},
			msgs:      []presenceMsg{hb("1", 1), join(3, "y", 2)},
			wantFetch: []bool{true, true},
			want:      map[string]string{},
		},
		{
			name:      "a heartbeat ahead fetches",
			snapshot:  []member{},
			msgs:      []presenceMsg{hb("1", 1), hb("1", 2)},
			wantFetch: []bool{true, true},
			want:      map[string]string{},
		},
		{
			name:      "old announcements are ignored",
			snapshot:  []member{{ID: "x", At: 1}},
			msgs:      []presenceMsg{hb("1", 1), leave(1, "x")},
			wantFetch: []bool{true, false},
			want:      map[string]string{"x": "a"},
		},
		{
			name:      "a restart drops the old clients",
			snapshot:  []member{{ID: "x", At: 1}},
			msgs:      []presenceMsg{hb("1", 1), hb("2", 0)},
			wantFetch: []bool{true, true},
			wantDown:  []bool{false, true},
			want:      map[string]string{},
		},
		{
			name:      "bye drops the node",
			snapshot:  []member{{ID: "x", At: 1}},
			msgs:      []presenceMsg{hb("1", 1), {Kind: kindBye, Node: "a", Inst: "1", Seq: 1}},
			wantFetch: []bool{true, false},
			wantDown:  []bool{false, true},
			want:      map[string]string{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var v view
			v.init()
			now := time.Now()
			for i, m := range tc.msgs {
				fetch, down := v.apply(m, now)
				require.Equal(t, tc.wantFetch[i], fetch, "fetch after message %d", i)
				if tc.wantDown != nil {
					require.Equal(t, tc.wantDown[i], down, "down after message %d", i)
				}
				if i == 0 {
					require.False(t, v.install("a", "1", tc.snapshot, 1, true))
				}
			}
			require.Equal(t, tc.want, v.clients())
		})
	}
}

// Announcements that arrive while a snapshot is fetched are replayed after
// it, those it already holds skipped.
func TestViewReplaysHeldAnnouncements(t *testing.T) {
	var v view
	v.init()
	now := time.Now()
	fetch, _ := v.apply(presenceMsg{Kind: kindHeartbeat, Node: "a", Inst: "1", Seq: 2}, now)
	require.True(t, fetch)
	for _, m := range []presenceMsg{
		{Kind: kindJoin, Node: "a", Inst: "1", Seq: 2, ID: "y", At: 2}, // in the snapshot
		{Kind: kindJoin, Node: "a", Inst: "1", Seq: 3, ID: "z", At: 3},
		{Kind: kindLeave, Node: "a", Inst: "1", Seq: 4, ID: "x"},
	} {
		fetch, _ := v.apply(m, now)
		require.False(t, fetch, "held while the snapshot is fetched")
	}
	require.False(t, v.install("a", "1", []member{{ID: "x", At: 1}, {ID: "y", At: 2}}, 2, true))
	require.Equal(t, map[string]string{"y": "a", "z": "a"}, v.clients())
	require.Empty(t, v.expire(now.Add(-time.Second)))
	require.Equal(t, []string{"a"}, v.expire(now.Add(time.Second)))
	require.Empty(t, v.clients())
}
