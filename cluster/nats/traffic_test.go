package nats

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
)

// BenchmarkIdleTraffic measures what a cluster sends over NATS while it
// is idle, and what admitting a client costs, as a function of the
// nodes and their clients: k nodes (each a helper process, this test
// binary again, with its defaults) with c clients each on a NATS server
// in this process, whose counters are read before the nodes start, once
// every client is connected, and after an idle window of
// WSRPC_BENCH_IDLE (default 3s).
//
//	go test -run '^$' -bench IdleTraffic -benchtime 1x ./cluster/nats
//
// Reported per sub-benchmark nodes=k/clients=c: idle messages and bytes
// per second into and out of NATS; NATS subscriptions per client; and
// the messages and bytes into NATS per client admitted (the setup's,
// less the idle rate over its duration). The idle window catches one
// heartbeat more or less per node depending on where it falls between
// their ticks.
func BenchmarkIdleTraffic(b *testing.B) {
	idle := 3 * time.Second
	if d, err := time.ParseDuration(os.Getenv("WSRPC_BENCH_IDLE")); err == nil && d > 0 {
		idle = d
	}
	for _, k := range []int{2, 3, 5} {
		for _, c := range []int{0, 1000, 5000} {
			b.Run(fmt.Sprintf("nodes=%d/clients=%d", k, c), func(b *testing.B) {
				for range b.N {
					idleTraffic(b, k, c, idle)
				}
			})
		}
	}
}

// natsCounters are the counters of a NATS server that the benchmark reads.
type natsCounters struct {
	inMsgs, outMsgs, inBytes, outBytes int64
	subs                               uint32
	at                                 time.Time
}

func readCounters(b *testing.B, s *natsserver.Server) natsCounters {
	v, err := s.Varz(nil)
	if err != nil {
		b.Fatal(err)
	}
	return natsCounters{v.InMsgs, v.OutMsgs, v.InBytes, v.OutBytes, v.Subscriptions, time.Now()}
}

func idleTraffic(b *testing.B, nodes, clients int, idle time.Duration) {
	s := natsServer(b)
	empty := readCounters(b, s)
	var stops []func()
	defer func() {
		for _, stop := range stops {
			stop()
		}
	}()
	for i := range nodes {
		_, stop := memHelper(b, s.ClientURL(), "t"+strconv.Itoa(i), clients)
		stops = append(stops, stop)
	}
	time.Sleep(2 * DefaultHeartbeatInterval) // every node knows every other
	ready := readCounters(b, s)
	time.Sleep(idle)
	end := readCounters(b, s)

	secs := end.at.Sub(ready.at).Seconds()
	rate := func(a, z int64) float64 { return float64(z-a) / secs }
	b.ReportMetric(rate(ready.inMsgs, end.inMsgs), "in-msgs/s")
	b.ReportMetric(rate(ready.outMsgs, end.outMsgs), "out-msgs/s")
	b.ReportMetric(rate(ready.inBytes, end.inBytes), "in-B/s")
	b.ReportMetric(rate(ready.outBytes, end.outBytes), "out-B/s")
	if clients > 0 {
		total := float64(nodes * clients)
		setup := float64(ready.inMsgs-empty.inMsgs) - rate(ready.inMsgs, end.inMsgs)*ready.at.Sub(empty.at).Seconds()
		setupBytes := float64(ready.inBytes-empty.inBytes) - rate(ready.inBytes, end.inBytes)*ready.at.Sub(empty.at).Seconds()
		b.ReportMetric(setup/total, "in-msgs/admission")
		b.ReportMetric(setupBytes/total, "in-B/admission")
		b.ReportMetric((float64(end.subs)-float64(empty.subs))/total, "subs/client")
	}
}
