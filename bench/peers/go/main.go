// A Go SDK activity worker, a peer of `kiln worker` for the conformance suite and benchmarks: it
// serves peer.noop (returns nothing at once) and peer.sleep (sleeps, heartbeating its progress,
// resuming from the previous attempt's heartbeat details, honouring cancellation).
//
//	go run . --address 127.0.0.1:7233 --namespace default --task-queue peers
//
// Once it polls it prints one line: `peer worker polling <queue> namespace=<ns> identity=<id>`.
// SIGINT/SIGTERM stop it gracefully.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
)

// Progress is peer.sleep's heartbeat detail: the milliseconds slept so far out of the total.
type Progress struct {
	Current int64 `json:"current"`
	Total   int64 `json:"total"`
}

func noop(ctx context.Context) error { return nil }

// sleep sleeps `ms` milliseconds in 100 ms steps, heartbeating after each, and returns the total
// slept over all attempts.
func sleep(ctx context.Context, ms int64) (int64, error) {
	var done int64
	if activity.HasHeartbeatDetails(ctx) {
		var last Progress
		if err := activity.GetHeartbeatDetails(ctx, &last); err == nil {
			done = last.Current
		}
	}
	for done < ms {
		step := min(int64(100), ms-done)
		select {
		case <-ctx.Done():
			return done, ctx.Err()
		case <-time.After(time.Duration(step) * time.Millisecond):
		}
		done += step
		activity.RecordHeartbeat(ctx, Progress{Current: done, Total: ms})
	}
	return done, nil
}

func main() {
	address := flag.String("address", "127.0.0.1:7233", "frontend host:port")
	namespace := flag.String("namespace", "default", "namespace")
	taskQueue := flag.String("task-queue", "peers", "task queue to poll")
	flag.Parse()

	identity := fmt.Sprintf("%d@go-peer", os.Getpid())
	logger := sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	c, err := client.Dial(client.Options{HostPort: *address, Namespace: *namespace, Identity: identity, Logger: logger})
	if err != nil {
		fmt.Fprintf(os.Stderr, "go peer: cannot connect to %s: %v\n", *address, err)
		os.Exit(1)
	}
	defer c.Close()
	w := worker.New(c, *taskQueue, worker.Options{Identity: identity})
	w.RegisterActivityWithOptions(noop, activity.RegisterOptions{Name: "peer.noop"})
	w.RegisterActivityWithOptions(sleep, activity.RegisterOptions{Name: "peer.sleep"})
	if err := w.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "go peer: worker did not start: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("peer worker polling %s namespace=%s identity=%s\n", *taskQueue, *namespace, identity)
	<-worker.InterruptCh()
	w.Stop()
}
