package testkit

import "strconv"

// BenchReads returns the messages of the CPU-per-call benchmarks (the
// server's BenchmarkServePath, the floor's BenchmarkFeed): reads of batch
// calls each, of subtract or of kv (kv.set and kv.get in turn, each kv.get
// reading the key set before it), as unmasked text payloads.
func BenchReads(call string, reads, batch int) [][]string {
	out := make([][]string, reads)
	id := int64(1)
	for r := range out {
		for i := 0; i < batch; i++ {
			id += 2
			n := strconv.FormatInt(id, 10)
			var msg string
			switch {
			case call == "subtract":
				msg = `{"id":` + n + `,"method":"subtract","params":{"a":` + strconv.FormatInt(id%1000, 10) + `,"b":` + strconv.FormatInt(id%37, 10) + `}}`
			case (id/2)%2 == 0:
				msg = `{"id":` + n + `,"method":"kv.set","params":{"key":"k` + strconv.FormatInt(id/2%8, 10) + `","value":` + n + `}}`
			default:
				msg = `{"id":` + n + `,"method":"kv.get","params":{"key":"k` + strconv.FormatInt((id/2%8+7)%8, 10) + `"}}`
			}
			out[r] = append(out[r], msg)
		}
	}
	return out
}
