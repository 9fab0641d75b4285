package rooms

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// FuzzEventMember: ReadMember never panics on what a server sends, and
// reads back the position frame wrote into any event object, whatever
// the event's members.
func FuzzEventMember(f *testing.F) {
	f.Add([]byte(`{"n":1}`), "lobby", "9f2c", uint64(42))
	f.Add([]byte(`{ }`), "r", "", uint64(0))
	f.Add([]byte(`{"_room":{"name":"x"},"a":[1,{"_room":2}]}`), "a-b", "e\"\\\x01", uint64(1<<63))
	f.Fuzz(func(t *testing.T, event []byte, name, epoch string, offset uint64) {
		_, _ = ReadMember(event)
		var obj map[string]json.RawMessage
		if json.Unmarshal(event, &obj) != nil || obj == nil || hasMember(event) || name == "" || !plain(name) {
			return
		}
		compact, _ := json.Marshal(obj)
		out := frame(name, Position{Epoch: epoch, Offset: offset}, compact)
		var back map[string]json.RawMessage
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("frame made invalid JSON %q: %v", out, err)
		}
		m, ok := ReadMember(out)
		if !ok || m.Name != name || m.Offset != offset || (utf8.ValidString(epoch) && m.Epoch != epoch) {
			t.Fatalf("ReadMember(%q) = %+v, %v", out, m, ok)
		}
		if len(back) != len(obj)+1 {
			t.Fatalf("frame changed the event's members: %q", out)
		}
	})
}
