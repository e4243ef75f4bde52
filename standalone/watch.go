package standalone

import (
	"context"
	"time"

	"github.com/portico-dev/portico/controllers/translate"
)

// Watch loads dir, calls apply with the Snapshot, then polls the directory
// every interval and calls apply again after each change. When a load fails,
// onError is called and apply is not: the last good configuration keeps
// serving. Change detection only stats the manifest names and Load opens
// nothing but regular files, without blocking, so a FIFO or device named
// *.yaml is reported through onError and never stalls the loop. Watch
// returns when ctx is done.
func Watch(ctx context.Context, dir string, interval time.Duration,
	apply func(*translate.Snapshot, []string), onError func(error)) {
	last := ""
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		fp, err := fingerprint(dir)
		switch {
		case err != nil:
			if fp != last {
				onError(err)
			}
		case fp != last:
			snap, ignored, lerr := Load(dir)
			if lerr != nil {
				onError(lerr)
			} else {
				apply(snap, ignored)
			}
		}
		last = fp
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
