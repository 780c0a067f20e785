package agent_test

import (
	"context"
	"fmt"
	"os/exec"
	"testing"
	"time"

	"maasgo/agent/agenttest"
	"maasgo/wire"
)

// BenchmarkPerScriptOverhead runs 100 trivial scripts (serially, each reported with its
// "Starting" and result signals, journaled and uploaded to an in-process region) and reports
// the wall time per script next to the cost of just starting /bin/sh the same way.
func BenchmarkPerScriptOverhead(b *testing.B) {
	const n = 100
	var total time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		f := agenttest.NewFake(b)
		var list []agenttest.Script
		for k := 0; k < n; k++ {
			list = append(list, agenttest.Script{Body: agenttest.NewScript(fmt.Sprintf("t-%03d", k), wire.ScriptTypeTesting, "", "exit 0")})
		}
		f.Offer(b, list...)
		h := agenttest.NewHarness(b, f)
		b.StartTimer()
		start := time.Now()
		sum, err := h.Agent.Run(context.Background())
		total += time.Since(start)
		if err != nil || len(sum.Outcomes) != n {
			b.Fatalf("%d outcomes, %v", len(sum.Outcomes), err)
		}
	}
	b.ReportMetric(float64(total.Microseconds())/float64(b.N*n), "µs/script")
	start := time.Now()
	for k := 0; k < n; k++ {
		if err := exec.Command("/bin/sh", "-c", "exit 0").Run(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/n, "µs/sh-exec")
}
