// watchload: lease keep-alive throughput, watch event latency and memory per watcher, measured
// through etcd 3.4's own Go client packages (raw etcdserverpb streams over clientv3 connections),
// so the same load runs against etcd and cairn. Built offline in GOPATH mode by build.sh.
//
// Phases (in this order, against the cluster leader, found with Maintenance.Status):
//
//	mem    RSS (VmRSS of -pids[leader]) before and after creating -idle-watchers watchers on
//	       distinct keys that are never written; (after-before)/count. The watchers are then closed.
//	lease  grant -leases leases (TTL 600 s), then -ka-streams LeaseKeepAlive streams each keep
//	       -ka-window requests in flight (a new request per response) for -ka-secs; responses/s.
//	watch  -watchers watchers on one key, spread over -watch-conns connections x -watch-streams
//	       streams; a writer puts at -put-rate/s for -put-secs with its send time in the value;
//	       latency = receive time - send time for each (watcher, event).
//
// Server CPU (utime+stime of all -pids, from /proc/<pid>/stat) is reported per keep-alive response
// and per delivered event; it is less sensitive than throughput to other load on the machine.
// Each phase prints one "RESULT <label> <phase> key=value ..." line.
package main

import (
	"context"
	"flag"
	"fmt"
	"io/ioutil"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/clientv3"
	pb "go.etcd.io/etcd/etcdserver/etcdserverpb"
)

var (
	endpoints    = flag.String("endpoints", "127.0.0.1:2379", "comma-separated client endpoints")
	pidsFlag     = flag.String("pids", "", "comma-separated server pids, same order as -endpoints")
	label        = flag.String("label", "server", "label printed on RESULT lines")
	phases       = flag.String("phases", "mem,lease,watch", "phases to run, in this order")
	idleWatchers = flag.Int("idle-watchers", 10000, "mem: watchers to create")
	leases       = flag.Int("leases", 1000, "lease: leases kept alive")
	kaStreams    = flag.Int("ka-streams", 4, "lease: keep-alive streams (two per connection)")
	kaWindow     = flag.Int("ka-window", 32, "lease: requests in flight per stream")
	kaSecs       = flag.Float64("ka-secs", 5, "lease: seconds of keep-alives")
	watchers     = flag.Int("watchers", 1000, "watch: watchers on the hot key")
	watchConns   = flag.Int("watch-conns", 4, "watch/mem: client connections")
	watchStreams = flag.Int("watch-streams", 2, "watch/mem: watch streams per connection")
	putRate      = flag.Int("put-rate", 150, "watch: puts per second")
	putSecs      = flag.Float64("put-secs", 10, "watch: seconds of puts")
	drainSecs    = flag.Float64("drain-secs", 15, "watch: max wait for outstanding events after the last put")
)

func die(f string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "watchload: "+f+"\n", a...)
	os.Exit(1)
}

func newClient(ep string) *clientv3.Client {
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{ep}, DialTimeout: 5 * time.Second})
	if err != nil {
		die("connect %s: %v", ep, err)
	}
	return c
}

func rssKB(pid string) int64 {
	b, err := ioutil.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		die("read rss: %v", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			f := strings.Fields(l)
			v, _ := strconv.ParseInt(f[1], 10, 64)
			return v
		}
	}
	die("no VmRSS for pid %s", pid)
	return 0
}

// cpuTicks returns utime+stime (clock ticks, 100/s) summed over pids.
func cpuTicks(pids []string) int64 {
	var t int64
	for _, pid := range pids {
		b, err := ioutil.ReadFile("/proc/" + pid + "/stat")
		if err != nil {
			die("read cpu: %v", err)
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndex(s, ")")+2:]) // f[0] is field 3 (state)
		u, _ := strconv.ParseInt(f[11], 10, 64)
		k, _ := strconv.ParseInt(f[12], 10, 64)
		t += u + k
	}
	return t
}

var allPids []string

// leader returns the index in eps of the member that reports itself leader.
func leader(eps []string) int {
	for try := 0; try < 50; try++ {
		for i, ep := range eps {
			c := newClient(ep)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			st, err := pb.NewMaintenanceClient(c.ActiveConnection()).Status(ctx, &pb.StatusRequest{})
			cancel()
			c.Close()
			if err == nil && st.Header != nil && st.Leader != 0 && st.Leader == st.Header.MemberId {
				return i
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	die("no leader found among %v", eps)
	return -1
}

// watchSet is a set of watch streams over several connections.
type watchSet struct {
	clients []*clientv3.Client
	streams []pb.Watch_WatchClient
	cancel  context.CancelFunc
}

func openStreams(ep string) *watchSet {
	ws := &watchSet{}
	ctx, cancel := context.WithCancel(context.Background())
	ws.cancel = cancel
	for c := 0; c < *watchConns; c++ {
		cl := newClient(ep)
		ws.clients = append(ws.clients, cl)
		wc := pb.NewWatchClient(cl.ActiveConnection())
		for s := 0; s < *watchStreams; s++ {
			st, err := wc.Watch(ctx)
			if err != nil {
				die("open watch stream: %v", err)
			}
			ws.streams = append(ws.streams, st)
		}
	}
	return ws
}

func (ws *watchSet) close() {
	ws.cancel()
	for _, c := range ws.clients {
		c.Close()
	}
}

// create sends n create requests spread round-robin over the streams (keyOf(i) for watcher i) and
// starts one receiver per stream; onResp gets every non-create response. Returns when all
// watchers are confirmed created.
func (ws *watchSet) create(n int, keyOf func(int) string, onResp func(stream int, r *pb.WatchResponse)) {
	var created int64
	per := make([]int, len(ws.streams))
	for i := 0; i < n; i++ {
		per[i%len(ws.streams)]++
	}
	var wg sync.WaitGroup
	for s, st := range ws.streams {
		s, st := s, st
		wg.Add(1)
		go func() { // receiver
			mine := 0
			done := false
			for {
				r, err := st.Recv()
				if err != nil {
					if !done {
						wg.Done()
					}
					return
				}
				if r.Created {
					if r.Canceled {
						die("watch create refused: %s", r.CancelReason)
					}
					atomic.AddInt64(&created, 1)
					mine++
					if mine == per[s] && !done {
						done = true
						wg.Done()
					}
					continue
				}
				if onResp != nil {
					onResp(s, r)
				}
			}
		}()
	}
	var sw sync.WaitGroup
	for s, st := range ws.streams {
		s, st := s, st
		sw.Add(1)
		go func() {
			defer sw.Done()
			for i := s; i < n; i += len(ws.streams) {
				req := &pb.WatchRequest{RequestUnion: &pb.WatchRequest_CreateRequest{
					CreateRequest: &pb.WatchCreateRequest{Key: []byte(keyOf(i))}}}
				if err := st.Send(req); err != nil {
					die("watch create send: %v", err)
				}
			}
		}()
	}
	sw.Wait()
	wg.Wait()
	if int(created) != n {
		die("only %d of %d watchers created", created, n)
	}
}

func phaseMem(ep, pid string) {
	if pid == "" {
		die("mem phase needs -pids")
	}
	time.Sleep(time.Second)
	ws := openStreams(ep)
	time.Sleep(500 * time.Millisecond)
	before := rssKB(pid)
	t0 := time.Now()
	ws.create(*idleWatchers, func(i int) string { return fmt.Sprintf("/bench/idle/%08d", i) }, nil)
	createSecs := time.Since(t0).Seconds()
	time.Sleep(2 * time.Second)
	after := rssKB(pid)
	fmt.Printf("RESULT %s mem watchers=%d rss_before_kb=%d rss_after_kb=%d bytes_per_watcher=%.0f create_per_s=%.0f\n",
		*label, *idleWatchers, before, after, float64(after-before)*1024/float64(*idleWatchers),
		float64(*idleWatchers)/createSecs)
	ws.close()
	time.Sleep(time.Second)
}

func phaseLease(ep string) {
	conns := (*kaStreams + 1) / 2
	var clients []*clientv3.Client
	for i := 0; i < conns; i++ {
		clients = append(clients, newClient(ep))
	}
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	// Grant the leases with 16 concurrent granters.
	ids := make([]int64, *leases)
	var next int64 = -1
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			lc := pb.NewLeaseClient(clients[g%conns].ActiveConnection())
			for {
				i := atomic.AddInt64(&next, 1)
				if i >= int64(*leases) {
					return
				}
				r, err := lc.LeaseGrant(context.Background(), &pb.LeaseGrantRequest{TTL: 600})
				if err != nil {
					die("lease grant: %v", err)
				}
				ids[i] = r.ID
			}
		}(g)
	}
	wg.Wait()

	ctx, cancel := context.WithCancel(context.Background())
	deadline := time.Now().Add(time.Duration(*kaSecs * float64(time.Second)))
	var responses, expired, errs int64
	cpu0 := cpuTicks(allPids)
	start := time.Now()
	for s := 0; s < *kaStreams; s++ {
		st, err := pb.NewLeaseClient(clients[s/2%conns].ActiveConnection()).LeaseKeepAlive(ctx)
		if err != nil {
			die("keepalive stream: %v", err)
		}
		tokens := make(chan struct{}, *kaWindow)
		for i := 0; i < *kaWindow; i++ {
			tokens <- struct{}{}
		}
		wg.Add(1)
		go func(s int) { // sender: one request per token
			defer wg.Done()
			k := s
			for range tokens {
				if time.Now().After(deadline) {
					return
				}
				if err := st.Send(&pb.LeaseKeepAliveRequest{ID: ids[k%len(ids)]}); err != nil {
					atomic.AddInt64(&errs, 1)
					return
				}
				k += *kaStreams
			}
		}(s)
		go func() { // receiver: each response frees a token
			for {
				r, err := st.Recv()
				if err != nil {
					return
				}
				if time.Now().After(deadline) {
					close(tokens)
					return
				}
				atomic.AddInt64(&responses, 1)
				if r.TTL <= 0 {
					atomic.AddInt64(&expired, 1)
				}
				tokens <- struct{}{}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	cpu := cpuTicks(allPids) - cpu0
	cancel()
	fmt.Printf("RESULT %s lease leases=%d streams=%d window=%d responses=%d per_s=%.0f expired=%d errors=%d server_cpu_us_per_resp=%.1f\n",
		*label, *leases, *kaStreams, *kaWindow, responses, float64(responses)/elapsed, expired, errs,
		float64(cpu)*1e4/float64(responses))
}

func pct(v []int64, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	i := int(float64(len(v))*p/100+0.5) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(v) {
		i = len(v) - 1
	}
	return float64(v[i]) / 1e6
}

func phaseWatch(ep string) {
	ws := openStreams(ep)
	defer ws.close()
	lats := make([][]int64, len(ws.streams))
	var events, canceled, lastRecv int64
	const key = "/bench/hot"
	ws.create(*watchers, func(int) string { return key }, func(s int, r *pb.WatchResponse) {
		if r.Canceled {
			atomic.AddInt64(&canceled, 1)
			return
		}
		now := time.Now().UnixNano()
		for _, ev := range r.Events {
			ts, err := strconv.ParseInt(string(ev.Kv.Value), 10, 64)
			if err == nil {
				lats[s] = append(lats[s], now-ts)
			}
		}
		atomic.AddInt64(&events, int64(len(r.Events)))
		atomic.StoreInt64(&lastRecv, now)
	})

	w := newClient(ep)
	defer w.Close()
	kv := pb.NewKVClient(w.ActiveConnection())
	total := int(float64(*putRate) * *putSecs)
	var putErrs int64
	var pw sync.WaitGroup
	interval := time.Second / time.Duration(*putRate)
	cpu0 := cpuTicks(allPids)
	start := time.Now()
	for i := 0; i < total; i++ {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		pw.Add(1)
		go func() {
			defer pw.Done()
			v := strconv.FormatInt(time.Now().UnixNano(), 10)
			if _, err := kv.Put(context.Background(), &pb.PutRequest{Key: []byte(key), Value: []byte(v)}); err != nil {
				atomic.AddInt64(&putErrs, 1)
			}
		}()
	}
	pw.Wait()
	putElapsed := time.Since(start).Seconds()
	expected := int64(total-int(putErrs)) * int64(*watchers)
	drainEnd := time.Now().Add(time.Duration(*drainSecs * float64(time.Second)))
	for atomic.LoadInt64(&events) < expected && time.Now().Before(drainEnd) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	got := atomic.LoadInt64(&events)
	cpu := cpuTicks(allPids) - cpu0
	span := float64(atomic.LoadInt64(&lastRecv)-start.UnixNano()) / 1e9
	ws.cancel() // stop receivers before reading lats
	time.Sleep(100 * time.Millisecond)
	var all []int64
	for _, l := range lats {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	var max float64
	if len(all) > 0 {
		max = float64(all[len(all)-1]) / 1e6
	}
	fmt.Printf("RESULT %s watch watchers=%d streams=%d puts=%d put_rate_achieved=%.0f put_errors=%d events=%d expected=%d canceled=%d events_per_s=%.0f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f server_cpu_us_per_event=%.2f\n",
		*label, *watchers, len(ws.streams), total, float64(total)/putElapsed, putErrs, got, expected, canceled,
		float64(got)/span, pct(all, 50), pct(all, 99), max, float64(cpu)*1e4/float64(got))
}

func main() {
	flag.Parse()
	eps := strings.Split(*endpoints, ",")
	var pids []string
	if *pidsFlag != "" {
		pids = strings.Split(*pidsFlag, ",")
	}
	allPids = pids
	li := leader(eps)
	ep := eps[li]
	pid := ""
	if li < len(pids) {
		pid = pids[li]
	}
	fmt.Printf("# %s: leader %s (pid %s)\n", *label, ep, pid)
	for _, ph := range strings.Split(*phases, ",") {
		switch ph {
		case "mem":
			phaseMem(ep, pid)
		case "lease":
			phaseLease(ep)
		case "watch":
			phaseWatch(ep)
		default:
			die("unknown phase %q", ph)
		}
	}
}
