// Phase A of kube_contract: one fixed sequence of the apiserver's call shapes from an empty cluster,
// printed as a transcript ("T ...") that must be the same against cairn and against etcd.
package main

import (
	"context"
	"fmt"
	"time"

	"go.etcd.io/etcd/clientv3"
	pb "go.etcd.io/etcd/etcdserver/etcdserverpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const pods = "/registry/pods/"

// phaseA returns whether the server's version passes kube-apiserver's RequestWatchProgress gate.
func phaseA(c *clientv3.Client, endpoints []string) bool {
	strict := statusChecks(c, endpoints)
	health(c)
	lease := grantLease(c)
	crud(c, lease)
	lists(c)
	rev := compaction(c)
	watches(c, rev)
	rangeStream(c)
	return strict
}

func statusChecks(c *clientv3.Client, endpoints []string) bool {
	strict := true
	for _, ep := range endpoints {
		ctx, cancel := ctxT(10 * time.Second)
		s, err := c.Status(ctx, ep)
		cancel()
		must("status "+ep, err)
		fmt.Printf("info %s version %s dbSize %d\n", ep, s.Version, s.DbSize)
		check("status dbSize > 0 on "+ep, s.DbSize > 0, s.DbSize)
		strict = strict && watchSupportsProgress(s.Version)
	}
	fmt.Printf("info kube-apiserver would enable RequestWatchProgress: %v\n", strict)
	return strict
}

// health: a linearizable Range of /registry/health with a 2 s timeout (factory/etcd3.go).
func health(c *clientv3.Client) {
	ctx, cancel := ctxT(2 * time.Second)
	defer cancel()
	r, err := c.Get(ctx, "/registry/health")
	t("health %s", getText(r, err))
}

func grantLease(c *clientv3.Client) clientv3.LeaseID {
	ctx, cancel := ctxT(10 * time.Second)
	defer cancel()
	l, err := c.Grant(ctx, 3600)
	must("lease grant", err)
	t("lease grant ttl=%d", l.TTL)
	return l.ID
}

func crud(c *clientv3.Client, lease clientv3.LeaseID) {
	for i := 0; i < 6; i++ {
		k := fmt.Sprintf("%sns/p%d", pods, i)
		l := clientv3.LeaseID(0)
		if i%2 == 0 {
			l = lease
		}
		t("create %s: %s", k, txnText(create(c, k, fmt.Sprintf("v%d", i), l)))
	}
	t("create again: %s", txnText(create(c, pods+"ns/p0", "again", 0)))
	g, err := get(c, pods+"ns/p0")
	t("get p0: %s", getText(g, err))
	if err == nil && len(g.Kvs) == 1 {
		t("p0 carries the lease: %v", g.Kvs[0].Lease == int64(lease))
	}
	cur := g.Kvs[0].ModRevision
	t("update stale: %s", txnText(update(c, pods+"ns/p0", "stale", cur-1, 0)))
	t("update: %s", txnText(update(c, pods+"ns/p0", "v0b", cur, lease)))
	g, err = get(c, pods+"ns/p1")
	t("get p1: %s", getText(g, err))
	t("delete stale: %s", txnText(del(c, pods+"ns/p1", g.Kvs[0].ModRevision-1)))
	t("delete: %s", txnText(del(c, pods+"ns/p1", g.Kvs[0].ModRevision)))
	t("get deleted: %s", getText(get(c, pods+"ns/p1")))
	t("update of a deleted key: %s", txnText(update(c, pods+"ns/p1", "x", g.Kvs[0].ModRevision, 0)))
}

func lists(c *clientv3.Client) {
	ctx, cancel := ctxT(10 * time.Second)
	defer cancel()
	n, err := c.Get(ctx, pods, clientv3.WithRange(prefixEnd(pods)), clientv3.WithCountOnly())
	t("count: %s", getText(n, err))
	k, err := c.Get(ctx, pods, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	t("keys: %s", getText(k, err))
	first, err := listPage(c, pods, pods, 2, 0)
	t("list page 1: %s", getText(first, err))
	rev := first.Header.Revision
	from := string(first.Kvs[len(first.Kvs)-1].Key) + "\x00"
	create(c, pods+"ns/p9", "later", 0) // after the list's revision: not in its later pages
	for page := 2; ; page++ {
		r, err := listPage(c, pods, from, 2, rev)
		t("list page %d at %d: %s", page, rev, getText(r, err))
		if err != nil || !r.More {
			break
		}
		from = string(r.Kvs[len(r.Kvs)-1].Key) + "\x00"
	}
	r, err := listPage(c, pods, pods, 100, 0)
	t("list now: %s", getText(r, err))
	rr, err := listPage(c, pods, pods, 0, rev+1000)
	t("list at a future revision: %s", getText(rr, err))
}

// compaction runs the apiserver's step twice (the first only records a revision), once more as a stale
// apiserver, and checks a continue token from before it. Returns the compacted revision.
func compaction(c *clientv3.Client) int64 {
	g, _ := listPage(c, pods, pods, 1, 0)
	before := g.Header.Revision
	var tm, rev, compacted int64
	var done bool
	var err error
	for i := 0; i < 2; i++ {
		asked := rev
		tm, rev, done, err = compact(c, tm, rev)
		t("compact step %d: time=%d rev=%d compacted=%v err=%v", i, tm, rev, done, err)
		if done {
			compacted = asked
		}
		c.Put(context.Background(), pods+"ns/p3", fmt.Sprintf("c%d", i))
	}
	tm2, rev2, done2, err2 := compact(c, 0, 0) // a second apiserver with a stale time: loses the race
	t("compact by a stale apiserver: time=%d rev=%d compacted=%v err=%v", tm2, rev2, done2, err2)
	r, err := listPage(c, pods, pods+"ns/p0\x00", 2, before-1)
	t("continue across the compaction: %s", getText(r, err))
	return compacted
}

func watches(c *clientv3.Client, compacted int64) {
	ctx, cancel := context.WithCancel(clientv3.WithRequireLeader(context.Background()))
	defer cancel()
	old := c.Watch(ctx, pods, clientv3.WithPrefix(), clientv3.WithRev(compacted-1), clientv3.WithPrevKV())
	select {
	case r := <-old:
		t("watch from a compacted revision: canceled=%v compact_revision=%d", r.Canceled, r.CompactRevision)
	case <-time.After(10 * time.Second):
		t("watch from a compacted revision: no answer in 10 s")
	}
	g, _ := get(c, pods+"ns/p4")
	w := c.Watch(ctx, pods, clientv3.WithPrefix(), clientv3.WithRev(g.Header.Revision+1), clientv3.WithPrevKV(),
		clientv3.WithProgressNotify())
	u, err := update(c, pods+"ns/p4", "w1", g.Kvs[0].ModRevision, 0)
	must("update p4", err)
	del(c, pods+"ns/p4", u.Header.Revision)
	create(c, pods+"ns/p4", "w2", 0)
	for got := 0; got < 3; {
		select {
		case r := <-w:
			for _, e := range r.Events {
				prev := "-"
				if e.PrevKv != nil {
					prev = string(e.PrevKv.Value)
				}
				t("event %s %s=%q mod=%d prev=%s", e.Type, e.Kv.Key, e.Kv.Value, e.Kv.ModRevision, prev)
				got++
			}
		case <-time.After(10 * time.Second):
			t("watch: events missing after %d", got)
			return
		}
	}
	must("request progress", c.RequestProgress(ctx))
	select {
	case r := <-w:
		t("bookmark: progress=%v rev=%d events=%d", r.IsProgressNotify(), r.Header.Revision, len(r.Events))
	case <-time.After(10 * time.Second):
		t("bookmark: none in 10 s")
	}
}

// rangeStream: etcd 3.7's RangeStream, which kube-apiserver tries first and drops on Unimplemented
// (etcd 3.4 here) for a paginated Range. cairn serves it, so the transcript records only that the call
// ends in one of the two answers the apiserver handles; the code itself goes to a line outside it.
func rangeStream(c *clientv3.Client) {
	ctx, cancel := ctxT(10 * time.Second)
	defer cancel()
	s, err := c.ActiveConnection().NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, "/etcdserverpb.KV/RangeStream")
	if err == nil {
		err = s.SendMsg(&pb.RangeRequest{Key: []byte(pods), RangeEnd: []byte(prefixEnd(pods))})
	}
	if err == nil {
		err = s.CloseSend()
	}
	if err == nil {
		// field 1 (RangeStreamResponse.range_response) read as raw bytes: Debian's 3.4 etcdserverpb has
		// no RangeStreamResponse, and PutRequest's field 1 is bytes
		err = s.RecvMsg(&pb.PutRequest{})
	}
	code := status.Code(err)
	t("range stream: served or unimplemented=%v", code == codes.OK || code == codes.Unimplemented)
	fmt.Printf("range stream: code=%s\n", code)
}
