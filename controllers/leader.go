package controllers

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// Leader election timings (client-go's usual values): a Lease held by a
// replica that stopped renewing is taken over after LeaseDuration.
const (
	LeaseDuration = 15 * time.Second
	RenewDeadline = 10 * time.Second
	RetryPeriod   = 2 * time.Second
)

// leaderElector decides which replica writes status and Events. Unlike
// controller-runtime's manager-level election, losing the Lease (an API
// server outage longer than RenewDeadline, a partition) never stops the
// process: every replica keeps serving traffic from its last table, the
// loser stops writing and campaigns again, and whoever wins next is told
// through onElected so it writes status at once.
type leaderElector struct {
	cfg       *rest.Config
	namespace string
	identity  string
	log       logr.Logger
	elected   atomic.Bool
	onElected func()
}

func newLeaderElector(cfg *rest.Config, namespace string, log logr.Logger) *leaderElector {
	host, _ := os.Hostname()
	return &leaderElector{cfg: cfg, namespace: namespace, identity: host + "_" + string(uuid.NewUUID()), log: log}
}

// IsLeader reports whether this replica holds the Lease now.
func (l *leaderElector) IsLeader() bool { return l.elected.Load() }

// NeedLeaderElection is false: the elector runs on every replica.
func (l *leaderElector) NeedLeaderElection() bool { return false }

// Start campaigns until ctx ends, again after every loss.
func (l *leaderElector) Start(ctx context.Context) error {
	cs, err := kubernetes.NewForConfig(rest.CopyConfig(l.cfg))
	if err != nil {
		return fmt.Errorf("leader election client: %w", err)
	}
	lock, err := resourcelock.New(resourcelock.LeasesResourceLock, l.namespace, LeaderElectionID,
		cs.CoreV1(), cs.CoordinationV1(), resourcelock.ResourceLockConfig{Identity: l.identity})
	if err != nil {
		return fmt.Errorf("leader election lock: %w", err)
	}
	for ctx.Err() == nil {
		le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock:            lock,
			LeaseDuration:   LeaseDuration,
			RenewDeadline:   RenewDeadline,
			RetryPeriod:     RetryPeriod,
			ReleaseOnCancel: true,
			Name:            LeaderElectionID,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(context.Context) {
					l.log.Info("elected leader: writing status and Events", "identity", l.identity)
					l.elected.Store(true)
					if l.onElected != nil {
						l.onElected()
					}
				},
				OnStoppedLeading: func() {
					if l.elected.Swap(false) {
						l.log.Info("lost leadership: still serving, no longer writing status; campaigning again")
					}
				},
			},
		})
		if err != nil {
			return fmt.Errorf("leader election: %w", err)
		}
		le.Run(ctx)
	}
	return nil
}
