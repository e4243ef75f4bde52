package standalone

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/portico-dev/portico/controllers/translate"
)

// Watch loads dir, calls apply with the Snapshot, then calls apply again
// after each change (see WatchChanges for how changes are noticed). When a
// load fails, onError is called and apply is not: the last good
// configuration keeps serving. Watch returns when ctx is done.
func Watch(ctx context.Context, dir string, interval time.Duration,
	apply func(*translate.Snapshot, []string), onError func(error)) {
	WatchChanges(ctx, dir, interval, func(*Changes) {
		snap, ignored, err := Load(dir)
		if err != nil {
			onError(err)
			return
		}
		apply(snap, ignored)
	}, onError)
}

// WatchChanges loads dir, calls apply with every object, then calls it
// with what changed after each change: a reload re-reads only the files
// whose stat changed, and re-parses only their changed documents. Changes
// are noticed through inotify (fsnotify) on dir and its subdirectories,
// and by comparing the files' stats every interval as well (inotify may be
// unavailable, out of watches, or blind on network file systems). A lone
// event is loaded at once; events that arrive during a load are loaded
// together right after it. Stats are taken without opening anything and
// only regular files are read (see Load), so a FIFO or device named *.yaml
// is reported through onError and never stalls the loop. When a load
// fails, onError is called and apply is not. WatchChanges returns when ctx
// is done.
func WatchChanges(ctx context.Context, dir string, interval time.Duration, apply func(*Changes), onError func(error)) {
	watchChanges(ctx, dir, interval, defaultLimits, apply, onError)
}

func watchChanges(ctx context.Context, dir string, interval time.Duration, lim limits, apply func(*Changes), onError func(error)) {
	t := newTree(dir, lim)
	events, stop := notify(dir)
	defer stop()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	last := ""
	for {
		fp, ferr := fingerprint(dir)
		switch {
		case ferr != nil:
			if fp != last {
				onError(ferr)
			}
		case fp != last:
			if ch, err := t.load(); err != nil {
				onError(err)
			} else {
				apply(ch)
			}
		}
		last = fp
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case _, ok := <-events:
			if !ok {
				events = nil
			}
			drain(events)
		}
	}
}

// drain empties the events already queued, so they are loaded together.
func drain(events <-chan fsnotify.Event) {
	for {
		select {
		case _, ok := <-events:
			if !ok {
				return
			}
		default:
			return
		}
	}
}

// notify watches dir and its subdirectories (not those starting with ".",
// whose files are read through top-level symlinks) for changes. The channel
// is nil when inotify is not available: polling alone then notices
// changes.
func notify(dir string) (<-chan fsnotify.Event, func()) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, func() {}
	}
	add := func(d string) {
		_ = w.Add(d)
	}
	add(dir)
	_ = filepath.WalkDir(dir+string(filepath.Separator), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			// An unreadable directory is reported by the load; here it
			// only goes unwatched (polling still covers it).
			return filepath.SkipDir
		}
		if !d.IsDir() {
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") && filepath.Clean(p) != filepath.Clean(dir) {
			return filepath.SkipDir
		}
		add(p)
		return nil
	})
	out := make(chan fsnotify.Event, 64)
	done := make(chan struct{})
	go func() {
		defer close(out)
		for {
			select {
			case <-done:
				return
			case e, ok := <-w.Events:
				if !ok {
					return
				}
				if e.Has(fsnotify.Create) {
					if st, err := os.Stat(e.Name); err == nil && st.IsDir() && !strings.HasPrefix(filepath.Base(e.Name), ".") {
						add(e.Name)
					}
				}
				select {
				case out <- e:
				default: // a load is due anyway
				}
			case _, ok := <-w.Errors:
				// Lost events (queue overflow): the next poll notices.
				if !ok {
					return
				}
			}
		}
	}()
	return out, func() {
		close(done)
		_ = w.Close()
	}
}
