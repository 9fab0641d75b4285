package wsrpc_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestGoldenTranscripts replays testdata/transcripts/*.txt against a real
// server over loopback. In a transcript "> " is a text frame sent (several
// consecutive "> " lines that do not parse alone are joined into one
// pretty-printed frame only when the first ends with "{"), ">b " a binary
// frame, "< " the exact next frame expected, "<~ " a regular expression it
// must match. Every transcript ends with a ping whose reply must be the next
// frame, which proves that dropped frames produced no reply.
func TestGoldenTranscripts(t *testing.T) {
	forEachEngine(t, testGoldenTranscripts)
}

func testGoldenTranscripts(t *testing.T) {
	files, err := filepath.Glob("testdata/transcripts/*.txt")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			require.NoError(t, err)
			_, url := newServer(t, nil)
			c := dialRaw(t, url)
			lines := strings.Split(string(data), "\n")
			for i := 0; i < len(lines); i++ {
				line := lines[i]
				switch {
				case line == "> {":
					// A pretty-printed frame: up to the line "> }".
					frame := "{"
					for i++; i < len(lines) && lines[i] != "> }"; i++ {
						frame += "\n" + strings.TrimPrefix(lines[i], ">")
					}
					c.Send(frame + "\n}")
				case strings.HasPrefix(line, ">b "):
					c.SendBinary(line[3:])
				case strings.HasPrefix(line, "> "):
					c.Send(line[2:])
				case strings.HasPrefix(line, "< "):
					require.Equal(t, line[2:], c.Read(), "%s:%d", file, i+1)
				case strings.HasPrefix(line, "<~ "):
					require.Regexp(t, regexp.MustCompile(line[3:]), c.Read(), "%s:%d", file, i+1)
				}
			}
			c.Send(`{"id":999999,"method":"ping","params":{"end":true}}`)
			require.Equal(t, `{"id":999999,"result":{"end":true}}`, c.Read(), "a frame above was answered unexpectedly")
		})
	}
}
