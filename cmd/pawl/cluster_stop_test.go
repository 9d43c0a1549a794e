package main

import (
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

// stopWithin sends SIGTERM to every process at once and checks that each exits with status 0
// within bound — well inside the shutdown grace these tests configure (30 s), so a node that
// waits on its cluster for the grace fails here.
func stopWithin(t *testing.T, bound time.Duration, procs ...*pawlProcess) {
	t.Helper()
	var wg sync.WaitGroup
	for _, p := range procs {
		sent := time.Now()
		p.signal(t, syscall.SIGTERM)
		wg.Go(func() {
			select {
			case <-p.done:
				if took := time.Since(sent); took > bound {
					t.Errorf("a node took %v to stop after SIGTERM; want at most %v", took, bound)
				}
				if code := p.cmd.ProcessState.ExitCode(); code != 0 {
					t.Errorf("a node exited with status %d after SIGTERM, want 0", code)
				}
			case <-time.After(bound + 30*time.Second):
				t.Errorf("a node did not stop within %v of SIGTERM", bound+30*time.Second)
			}
		})
	}
	wg.Wait()
}

// longGrace gives each node's config a shutdown grace far above stopWithin's bound.
func longGrace(t *testing.T, configs []string) {
	t.Helper()
	for _, c := range configs {
		f, err := os.OpenFile(c, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.WriteString("limits: {shutdown_grace: 30s}\n")
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
}

// An operator's SIGTERM stops a cluster node promptly even when its cluster cannot answer:
// neither a node still waiting at startup for JetStream's registrations, nor one whose peers
// were just lost, waits on JetStream requests that will not be answered in time.
func TestClusterNodeStopsPromptly(t *testing.T) {
	const bound = 5 * time.Second // before: 10 s after the peers were lost, 5 min without a quorum

	t.Run("while it waits for a quorum", func(t *testing.T) {
		configs, _ := clusterConfigs(t, 3)
		longGrace(t, configs)
		alone := startClusterProcess(t, configs[0]) // its peers never start
		alone.waitLog(t, 0, "cluster node started")
		time.Sleep(500 * time.Millisecond) // its realms now wait for JetStream's registrations
		stopWithin(t, bound, alone)
	})

	t.Run("after its peers were lost", func(t *testing.T) {
		configs, _ := clusterConfigs(t, 3)
		longGrace(t, configs)
		procs := make([]*pawlProcess, 3)
		for i := range procs {
			procs[i] = startClusterProcess(t, configs[i])
		}
		for _, p := range procs {
			p.url(t)
			p.waitLog(t, 0, "cluster: node up")
		}
		procs[2].cmd.Process.Kill()
		<-procs[2].done
		for _, p := range procs[:2] { // each now re-watches the registrations: a JetStream request
			p.waitLog(t, 0, "node down", "peer=node3")
		}
		stopWithin(t, bound, procs[:2]...)
	})
}
