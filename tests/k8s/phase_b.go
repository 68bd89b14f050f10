// Phase B of kube_contract: a simulated cluster's objects written by concurrent writers with the
// apiserver's optimistic-concurrency shapes, watched by three watchers (one on the member that gets
// restarted), bookmarks taken with RequestProgress and compared with a List at their revision, and
// the apiserver's compaction loop.
package main

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/clientv3"
	"go.etcd.io/etcd/mvcc/mvccpb"
)

const (
	objPrefix       = "/registry/b/"
	writers         = 16
	keysPerLeaseMax = 1000 // the apiserver's lease manager reuses a lease for up to 1,000 objects
	listPageLimit   = 500
	bookmarksMax    = 4 // bookmark comparisons per watcher (each is a full paginated List)
)

// ---- watchers: a view of the objects built from events only ----

type watcher struct {
	name      string
	mu        sync.Mutex
	state     map[string]kv
	lastRev   int64
	events    int
	broken    []string // gap, duplicate or order violations (the first few)
	rewatches int
	snapshots chan snapshot
	compared  int32
}

type snapshot struct {
	rev   int64
	state map[string]kv
}

func (w *watcher) violation(s string) {
	if len(w.broken) < 5 {
		w.broken = append(w.broken, s)
	}
}

// apply checks each event against the view (prev_kv must be what the view holds: a missed or
// repeated event shows there) and applies it.
func (w *watcher) apply(e *clientv3.Event) {
	k := string(e.Kv.Key)
	cur, have := w.state[k]
	if e.Kv.ModRevision < w.lastRev || (have && e.Kv.ModRevision <= cur.modRev) {
		w.violation(fmt.Sprintf("out of order or repeated: %s mod=%d after %d", k, e.Kv.ModRevision, w.lastRev))
	}
	switch {
	case e.PrevKv == nil && have:
		w.violation(fmt.Sprintf("%s %s without prev_kv but the view holds mod=%d", e.Type, k, cur.modRev))
	case e.PrevKv != nil && (!have || e.PrevKv.ModRevision != cur.modRev || string(e.PrevKv.Value) != cur.value):
		w.violation(fmt.Sprintf("%s %s prev mod=%d, the view holds %v (gap)", e.Type, k, e.PrevKv.ModRevision, cur))
	}
	if e.Type == mvccpb.DELETE {
		delete(w.state, k)
	} else {
		w.state[k] = kv{string(e.Kv.Value), e.Kv.ModRevision, e.Kv.Lease}
	}
	w.lastRev = e.Kv.ModRevision
	w.events++
}

// run follows the objects from `from` on. A watch the server ends without a compaction (etcd's "no
// leader" for a `hasleader` stream on a member that just restarted, which clientv3 does not retry) is
// opened again from the next revision, as the apiserver's reflector does.
func (w *watcher) run(ctx context.Context, c *clientv3.Client, from int64, strict bool) {
	for ctx.Err() == nil {
		w.follow(ctx, c, from, strict)
		w.mu.Lock()
		from = w.lastRev + 1
		w.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (w *watcher) follow(ctx context.Context, c *clientv3.Client, from int64, strict bool) {
	ch := c.Watch(clientv3.WithRequireLeader(ctx), objPrefix, clientv3.WithPrefix(), clientv3.WithRev(from),
		clientv3.WithPrevKV(), clientv3.WithProgressNotify())
	for r := range ch {
		w.mu.Lock()
		if r.CompactRevision != 0 {
			w.violation(fmt.Sprintf("watch canceled: compact_revision=%d", r.CompactRevision))
		}
		if r.Canceled {
			w.rewatches++
			w.mu.Unlock()
			return
		}
		for _, e := range r.Events {
			w.apply(e)
		}
		if r.IsProgressNotify() && strict && len(w.snapshots) < cap(w.snapshots) &&
			atomic.LoadInt32(&w.compared) < bookmarksMax {
			copied := make(map[string]kv, len(w.state))
			for k, v := range w.state {
				copied[k] = v
			}
			w.snapshots <- snapshot{r.Header.Revision, copied}
		}
		w.mu.Unlock()
	}
}

// compareBookmarks: a bookmark at R promises the view holds every event up to R, so the view at the
// bookmark must equal a List at R (what kube-apiserver's consistent reads from its cache rely on).
func (w *watcher) compareBookmarks(c *clientv3.Client, mismatches, skipped *int32) {
	for s := range w.snapshots {
		listed, _, err := list(c, objPrefix, listPageLimit, s.rev)
		if err != nil {
			atomic.AddInt32(skipped, 1) // compacted meanwhile
			continue
		}
		if d := diff(s.state, listed); d != "" {
			atomic.AddInt32(mismatches, 1)
			fmt.Printf("info %s: the view at bookmark %d differs from a List at %d: %s\n", w.name, s.rev, s.rev, d)
		}
		atomic.AddInt32(&w.compared, 1)
	}
}

func diff(a, b map[string]kv) string {
	var missing, extra, differ []string
	for k, v := range b {
		if av, ok := a[k]; !ok {
			missing = append(missing, k)
		} else if av.value != v.value || av.modRev != v.modRev {
			differ = append(differ, fmt.Sprintf("%s %v vs %v", k, av, v))
		}
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			extra = append(extra, k)
		}
	}
	if len(missing)+len(extra)+len(differ) == 0 {
		return ""
	}
	sort.Strings(missing)
	sort.Strings(extra)
	cut := func(s []string) []string {
		if len(s) > 3 {
			return s[:3]
		}
		return s
	}
	return fmt.Sprintf("%d missing %v, %d extra %v, %d differ %v", len(missing), cut(missing), len(extra), cut(extra),
		len(differ), cut(differ))
}

// ---- writers: objects with the apiserver's optimistic concurrency; an error is settled by a Get ----

type model struct {
	mu      sync.Mutex
	objects map[string]kv
}

type writer struct {
	c      *clientv3.Client
	m      *model
	rng    *rand.Rand
	own    map[string]kv
	leases *leaseManager
}

// settle reads the key after an error whose outcome is unknown (the member died mid-call).
func (w *writer) settle(key string) (kv, bool) {
	for i := 0; ; i++ {
		g, err := get(w.c, key)
		if err == nil {
			if len(g.Kvs) == 0 {
				return kv{}, false
			}
			return kv{string(g.Kvs[0].Value), g.Kvs[0].ModRevision, g.Kvs[0].Lease}, true
		}
		if i == 50 {
			must("get "+key+" after an error", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (w *writer) create(key, val string, lease clientv3.LeaseID) {
	r, err := create(w.c, key, val, lease)
	if err == nil && r.Succeeded {
		w.own[key] = kv{val, r.Header.Revision, int64(lease)}
		return
	}
	if err == nil {
		check("create of a new key succeeds "+key, false, txnText(r, err))
	}
	if cur, ok := w.settle(key); ok {
		w.own[key] = cur
	}
}

// update is GuaranteedUpdate: a first try with a stale revision (one in ten) must fail and return
// the current object, the retry with its revision succeeds.
func (w *writer) update(key string, stale bool) {
	cur := w.own[key]
	val := fmt.Sprintf("u%d", w.rng.Int63())
	rev := cur.modRev
	if stale {
		rev--
	}
	for attempt := 0; attempt < 20; attempt++ {
		r, err := update(w.c, key, val, rev, clientv3.LeaseID(cur.lease))
		if err != nil {
			got, _ := w.settle(key)
			if got.value == val {
				w.own[key] = got
				return
			}
			rev, cur = got.modRev, got
			continue
		}
		if r.Succeeded {
			w.own[key] = kv{val, r.Header.Revision, cur.lease}
			return
		}
		kvs := r.Responses[0].GetResponseRange().Kvs
		if !stale || len(kvs) != 1 || kvs[0].ModRevision != cur.modRev {
			check("a conflict returns the current object "+key, false, txnText(r, err))
			return
		}
		rev, stale = kvs[0].ModRevision, false
	}
	check("update settles in 20 tries "+key, false)
}

func (w *writer) delete(key string) {
	for attempt := 0; attempt < 20; attempt++ {
		r, err := del(w.c, key, w.own[key].modRev)
		if err == nil && r.Succeeded {
			delete(w.own, key)
			return
		}
		if err == nil {
			check("delete at the current revision succeeds "+key, false, txnText(r, err))
			return
		}
		got, ok := w.settle(key)
		if !ok {
			delete(w.own, key)
			return
		}
		w.own[key] = got
	}
	check("delete settles in 20 tries "+key, false)
}

// leaseManager: one lease shared by up to keysPerLeaseMax objects (etcd3/lease_manager.go).
type leaseManager struct {
	mu   sync.Mutex
	c    *clientv3.Client
	id   clientv3.LeaseID
	used int
	all  map[clientv3.LeaseID]int
}

func (l *leaseManager) get() clientv3.LeaseID {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.id == 0 || l.used >= keysPerLeaseMax {
		ctx, cancel := ctxT(10 * time.Second)
		g, err := l.c.Grant(ctx, 3600)
		cancel()
		must("lease grant", err)
		l.id, l.used = g.ID, 0
	}
	l.used++
	l.all[l.id]++
	return l.id
}

func keyOf(i int) (string, bool) {
	if i%5 == 0 {
		return fmt.Sprintf("%sevents/ns-%d/ev-%05d", objPrefix, i%10, i), true
	}
	return fmt.Sprintf("%sconfigmaps/ns-%d/cm-%05d", objPrefix, i%10, i), false
}

func (w *writer) run(id, objects int, created *int64) {
	var mine []string
	for i := id; i < objects; i += writers {
		key, isEvent := keyOf(i)
		var lease clientv3.LeaseID
		if isEvent {
			lease = w.leases.get()
		}
		w.create(key, fmt.Sprintf("c%d", i), lease)
		mine = append(mine, key)
		atomic.AddInt64(created, 1)
	}
	for j := 0; j < len(mine)/4; j++ {
		key := mine[w.rng.Intn(len(mine))]
		if _, ok := w.own[key]; ok {
			w.update(key, w.rng.Intn(10) == 0)
		}
	}
	for j := 0; j < len(mine)/20; j++ {
		key := mine[w.rng.Intn(len(mine))]
		if _, ok := w.own[key]; ok {
			w.delete(key)
		}
	}
	w.m.mu.Lock()
	for k, v := range w.own {
		w.m.objects[k] = v
	}
	w.m.mu.Unlock()
}

// ---- the run ----

type phaseBRun struct {
	cli      *clientv3.Client
	watchers []*watcher
	ctxs     []context.Context
	clients  []*clientv3.Client
	floor    func() int64
}

func newWatcherClient(endpoint string) *clientv3.Client {
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 20 * time.Second,
		DialKeepAliveTime: 30 * time.Second, DialKeepAliveTimeout: 10 * time.Second})
	must("watcher client "+endpoint, err)
	return c
}

// compactLoop is the apiserver's loop (scaled from 5 minutes to 2 s), never compacting past what every
// watcher has seen: a real apiserver compacts revisions minutes old, far behind a member restart.
func (p *phaseBRun) compactLoop(stop <-chan struct{}, compactions *int32) {
	var tm, rev int64
	for {
		select {
		case <-stop:
			return
		case <-time.After(2 * time.Second):
		}
		if f := p.floor(); rev > f {
			rev = f
		}
		var done bool
		var err error
		tm, rev, done, err = compact(p.cli, tm, rev)
		if done {
			atomic.AddInt32(compactions, 1)
		}
		if err != nil {
			fmt.Println("info compaction step:", err)
		}
	}
}

// requestProgress asks for a bookmark on watcher i's stream every 500 ms (on the stream's own context:
// clientv3 picks the stream by the context's metadata).
func (p *phaseBRun) requestProgress(i int, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case <-time.After(500 * time.Millisecond):
		}
		p.clients[i].RequestProgress(p.ctxs[i]) // a member being restarted: the next round asks again
	}
}

// restart asks the script to SIGKILL and restart member 2 once half of the objects exist.
func restart(dir string, objects int, created *int64, done chan<- bool) {
	for atomic.LoadInt64(created) < int64(objects/2) {
		time.Sleep(20 * time.Millisecond)
	}
	must("restart request", os.WriteFile(filepath.Join(dir, "restart.req"), nil, 0o644))
	deadline := time.Now().Add(120 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(filepath.Join(dir, "restart.done")); err == nil {
			done <- true
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	done <- false
}

func phaseB(cli *clientv3.Client, endpoints []string, objects int, restartDir string, strict bool) {
	start := time.Now()
	g, err := get(cli, objPrefix)
	must("phase B start revision", err)
	rev0 := g.Header.Revision
	p := &phaseBRun{cli: cli}
	names := []string{"watcher on m1", "watcher on m2 (restarted)", "watcher on all endpoints"}
	p.clients = []*clientv3.Client{newWatcherClient(endpoints[0]), newWatcherClient(endpoints[1]), cli}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mismatches, skipped int32
	var cmpWG, runWG sync.WaitGroup
	for i, name := range names {
		w := &watcher{name: name, state: map[string]kv{}, lastRev: rev0, snapshots: make(chan snapshot, 1)}
		p.watchers = append(p.watchers, w)
		p.ctxs = append(p.ctxs, clientv3.WithRequireLeader(ctx))
		runWG.Add(1)
		go func(i int) { defer runWG.Done(); w.run(ctx, p.clients[i], rev0+1, strict) }(i)
		cmpWG.Add(1)
		go func() { defer cmpWG.Done(); w.compareBookmarks(cli, &mismatches, &skipped) }()
	}
	p.floor = func() int64 {
		low := int64(1) << 62
		for _, w := range p.watchers {
			w.mu.Lock()
			if w.lastRev < low {
				low = w.lastRev
			}
			w.mu.Unlock()
		}
		return low
	}
	stop := make(chan struct{})
	var compactions int32
	go p.compactLoop(stop, &compactions)
	for i := range p.clients {
		go p.requestProgress(i, stop)
	}

	m := &model{objects: map[string]kv{}}
	leases := &leaseManager{c: cli, all: map[clientv3.LeaseID]int{}}
	var created int64
	restarted := make(chan bool, 1)
	if restartDir != "" {
		go restart(restartDir, objects, &created, restarted)
	}
	var wg sync.WaitGroup
	for i := 0; i < writers; i++ {
		wg.Add(1)
		w := &writer{c: cli, m: m, rng: rand.New(rand.NewSource(int64(i + 1))), own: map[string]kv{}, leases: leases}
		go func(id int) { defer wg.Done(); w.run(id, objects, &created) }(i)
	}
	wg.Wait()
	if restartDir != "" {
		check("member 2 was restarted during the writes", <-restarted)
	}
	fmt.Printf("info %d objects written by %d writers in %.1f s\n", objects, writers, time.Since(start).Seconds())
	final := finalChecks(p, m, leases, strict)
	close(stop)
	cancel()
	runWG.Wait()
	for _, w := range p.watchers {
		close(w.snapshots)
		fmt.Printf("info %s: %d events, watch opened again %d times\n", w.name, w.events, w.rewatches)
	}
	cmpWG.Wait()
	if atomic.LoadInt32(&compactions) == 0 {
		// The writes ended within two intervals: one more step (as an apiserver that lost the first
		// race) so that the final checks below always follow a compaction.
		tm, _, _, err := compact(cli, 0, 0)
		must("compaction step", err)
		if _, _, done, err := compact(cli, tm, p.floor()); done {
			atomic.AddInt32(&compactions, 1)
		} else {
			fmt.Println("info final compaction step:", err)
		}
	}
	fmt.Printf("info final list: %d objects; %d compactions\n", len(final), atomic.LoadInt32(&compactions))
	check("the apiserver's compaction compacted", atomic.LoadInt32(&compactions) > 0)
	if strict {
		for _, w := range p.watchers {
			check(fmt.Sprintf("%s: bookmarks compared with a List at their revision (%d)", w.name,
				atomic.LoadInt32(&w.compared)), atomic.LoadInt32(&w.compared) > 0)
		}
		check(fmt.Sprintf("every bookmark's view equals the List at its revision (%d skipped: compacted)",
			atomic.LoadInt32(&skipped)), atomic.LoadInt32(&mismatches) == 0, atomic.LoadInt32(&mismatches), " differ")
	} else {
		fmt.Println("skip bookmark views vs List: the server's version is below kube-apiserver's RequestWatchProgress gate (etcd #15220)")
	}
}

// finalChecks: the writers' model, the final List, count_only, keys_only and every watcher's view
// (once it caught up, bounded) are the same objects.
func finalChecks(p *phaseBRun, m *model, leases *leaseManager, strict bool) map[string]kv {
	final, rev, err := list(p.cli, objPrefix, listPageLimit, 0)
	must("final list", err)
	check(fmt.Sprintf("final List (%d pages of %d, at %d) equals the writers' model", len(final)/listPageLimit+1,
		listPageLimit, rev), diff(m.objects, final) == "", diff(m.objects, final))
	ctx, cancel := ctxT(15 * time.Second)
	defer cancel()
	n, err := p.cli.Get(ctx, objPrefix, clientv3.WithRange(prefixEnd(objPrefix)), clientv3.WithCountOnly(), clientv3.WithRev(rev))
	must("count", err)
	check("count_only equals the List", n.Count == int64(len(final)), n.Count, " vs ", len(final))
	k, err := p.cli.Get(ctx, objPrefix, clientv3.WithPrefix(), clientv3.WithKeysOnly(), clientv3.WithRev(rev))
	must("keys only", err)
	keysOK := len(k.Kvs) == len(final)
	for _, x := range k.Kvs {
		_, in := final[string(x.Key)]
		keysOK = keysOK && in && len(x.Value) == 0
	}
	check("keys_only lists the same keys without values", keysOK, len(k.Kvs))
	leaseOK := len(leases.all) > 0
	for _, n := range leases.all {
		leaseOK = leaseOK && n <= keysPerLeaseMax
	}
	for key, v := range final {
		if _, isEvent := keyOf(indexOf(key)); isEvent != (v.lease != 0) {
			leaseOK = false
		}
	}
	check(fmt.Sprintf("event objects carry their lease, %d leases of at most %d keys", len(leases.all), keysPerLeaseMax), leaseOK)
	for _, w := range p.watchers {
		deadline := time.Now().Add(60 * time.Second)
		var d string
		for {
			w.mu.Lock()
			d = diff(w.state, final)
			broken, events := w.broken, w.events
			w.mu.Unlock()
			if d == "" || time.Now().After(deadline) {
				check(fmt.Sprintf("%s: %d events, no gap, duplicate or reordering", w.name, events), len(broken) == 0, broken)
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		check(w.name+": its view equals the final List", d == "", d)
	}
	return final
}

func indexOf(key string) int {
	var i int
	fmt.Sscanf(key[len(key)-5:], "%d", &i)
	return i
}
