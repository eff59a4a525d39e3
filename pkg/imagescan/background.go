package imagescan

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kubeguard/kubeguard/pkg/finding"
	"github.com/kubeguard/kubeguard/pkg/inventory"
	"github.com/kubeguard/kubeguard/pkg/object"
	"github.com/kubeguard/kubeguard/pkg/vulndb"
)

// Background scans images off the request path, for the controller and
// the webhook: a bounded queue, a few workers, and results kept by
// reference (the controller asks by digest, so a result never goes
// stale; it is matched again when the database changes).
type Background struct {
	s       *Scanner
	queue   chan string
	workers int
	dbDir   string
	log     *slog.Logger

	mu      sync.Mutex
	results map[string]*bgResult
	changed atomic.Bool
	// Dropped counts references left for a later round because the
	// queue was full.
	Dropped atomic.Int64
	// DBPoll is how often the database directory is looked at.
	DBPoll time.Duration

	jobs     *Jobs
	jobQueue []string // references waiting for a Job
}

type bgResult struct {
	done bool
	res  []*Scanned
	err  error
}

// NewBackground scans with s, holding at most queue references waiting.
// dbDir, when set, is watched: a rebuilt database is opened and every
// cached image matched again.
func NewBackground(s *Scanner, queue, workers int, dbDir string, log *slog.Logger) *Background {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Background{s: s, queue: make(chan string, max(queue, 1)), workers: max(workers, 1), dbDir: dbDir, log: log,
		results: map[string]*bgResult{}, DBPoll: time.Minute}
}

// Start runs the workers until ctx ends.
func (b *Background) Start(ctx context.Context) {
	for range b.workers {
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case ref := <-b.queue:
					res, err := b.s.Scan(ctx, ref)
					b.setResult(ref, res, err)
				}
			}
		}()
	}
	if b.dbDir != "" {
		go b.watchDB(ctx)
	}
	if b.jobs != nil {
		go b.jobLoop(ctx)
	}
}

// Want queues the references not scanned or queued yet; those that do
// not fit are tried again on the next call. With Jobs, a queue at the
// threshold hands references to Jobs instead.
func (b *Background) Want(refs []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, ref := range refs {
		if _, ok := b.results[ref]; ok {
			continue
		}
		if b.jobs != nil && len(b.queue) >= b.jobs.Threshold {
			b.jobQueue = append(b.jobQueue, ref)
			b.results[ref] = &bgResult{}
			continue
		}
		select {
		case b.queue <- ref:
			b.results[ref] = &bgResult{}
		default:
			b.Dropped.Add(1)
		}
	}
}

// Result is what is known of a reference; done is false while it waits.
func (b *Background) Result(ref string) (res []*Scanned, err error, done bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	r, ok := b.results[ref]
	if !ok || !r.done {
		return nil, nil, false
	}
	return r.res, r.err, true
}

// Changed reports whether results arrived (or the database changed)
// since the last call.
func (b *Background) Changed() bool { return b.changed.Swap(false) }

// Findings are the IMG-VULN findings of the workloads from the results
// known now; images still waiting add nothing yet, images that failed
// are diagnostics.
func (b *Background) Findings(entries []inventory.Entry, resolve Resolve, accept Accept) ([]*finding.Finding, []object.Diagnostic) {
	fs, _, diags := b.s.workloads(context.Background(), entries, resolve, accept, 1, func(ref string) ([]*Scanned, error) {
		res, err, _ := b.Result(ref)
		return res, err
	})
	return fs, diags
}

// watchDB opens the database again when it is rebuilt, and matches every
// scanned image against it.
func (b *Background) watchDB(ctx context.Context) {
	meta := filepath.Join(b.dbDir, "meta.json")
	var last time.Time
	if st, err := os.Stat(meta); err == nil {
		last = st.ModTime()
	}
	t := time.NewTicker(b.DBPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		st, err := os.Stat(meta)
		if err != nil || !st.ModTime().After(last) {
			continue
		}
		db, err := vulndb.Open(b.dbDir)
		if err != nil {
			b.log.Warn("vulnerability database changed but cannot be read", "error", err)
			continue
		}
		last = st.ModTime()
		if err := b.rematch(db); err != nil {
			b.log.Warn("matching against the new database", "error", err)
			continue
		}
		b.log.Info("vulnerability database changed; images matched again", "records", db.Meta.Records)
		b.changed.Store(true)
	}
}

// rematch matches the images scanned so far against a new database; no
// image is read again.
func (b *Background) rematch(db *vulndb.DB) error {
	b.s.SetDB(db)
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, r := range b.results {
		if !r.done || r.err != nil {
			continue
		}
		res := make([]*Scanned, 0, len(r.res))
		for _, sc := range r.res {
			m, err := db.Matches(sc.Inventory.Packages)
			if err != nil {
				return err
			}
			res = append(res, &Scanned{Inventory: sc.Inventory, Matches: m})
		}
		r.res = res
	}
	return nil
}
