// kube_contract: the calls kube-apiserver's storage layer (k8s.io/apiserver pkg/storage/etcd3 over
// clientv3) makes, in the shapes it makes them, against a 3-member cluster. Built by
// e2e_kube_contract.sh in GOPATH mode against Debian's etcd 3.4 clientv3, and run against cairn and
// against a real etcd 3.4 as the control.
//
// Output lines:
//
//	"T ..."  transcript of phase A (one fixed sequence of calls from an empty cluster): the script
//	         diffs it between cairn and etcd, so every result (revisions, counts, errors) must match;
//	"ok/FAIL/skip ..." checks of phase B (concurrent writers, watchers, compaction, a member restart);
//	"info ..." numbers.
//
// Exit code 1 on any FAIL.
//
// Usage: kube_contract -endpoints a,b,c -objects N -restart-dir DIR
//
//	The watcher that must survive a member restart uses endpoint b only; in the middle of phase B the
//	program creates DIR/restart.req and waits (bounded) for DIR/restart.done, which the script writes
//	after it killed member b with SIGKILL and started it again.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/clientv3"
)

var failed int32

func check(name string, ok bool, detail ...interface{}) {
	if ok {
		fmt.Println("ok   " + name)
		return
	}
	atomic.StoreInt32(&failed, 1)
	fmt.Println("FAIL "+name, fmt.Sprint(detail...))
}

func must(what string, err error) {
	if err != nil {
		fmt.Println("FAIL "+what+":", err)
		os.Exit(1)
	}
}

func t(format string, args ...interface{}) { fmt.Printf("T "+format+"\n", args...) }

func ctxT(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

// prefixEnd is clientv3.GetPrefixRangeEnd, as the apiserver computes range_end.
func prefixEnd(p string) string { return clientv3.GetPrefixRangeEnd(p) }

// ---- the apiserver's call shapes (k8s.io/apiserver pkg/storage/etcd3, client/v3/kubernetes) ----

type kv struct {
	value  string
	modRev int64
	lease  int64
}

// create: Txn{MOD(key)==0 ? Put(key, v, lease)}.
func create(c *clientv3.Client, key, val string, lease clientv3.LeaseID) (*clientv3.TxnResponse, error) {
	ctx, cancel := ctxT(10 * time.Second)
	defer cancel()
	var opts []clientv3.OpOption
	if lease != 0 {
		opts = append(opts, clientv3.WithLease(lease))
	}
	return c.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, val, opts...)).Commit()
}

// update: Txn{MOD(key)==rev ? Put : Range(key)} (OptimisticPut with GetOnFailure).
func update(c *clientv3.Client, key, val string, rev int64, lease clientv3.LeaseID) (*clientv3.TxnResponse, error) {
	ctx, cancel := ctxT(10 * time.Second)
	defer cancel()
	var opts []clientv3.OpOption
	if lease != 0 {
		opts = append(opts, clientv3.WithLease(lease))
	}
	return c.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).
		Then(clientv3.OpPut(key, val, opts...)).Else(clientv3.OpGet(key)).Commit()
}

// del: Txn{MOD(key)==rev ? DeleteRange(key) : Range(key)} (OptimisticDelete).
func del(c *clientv3.Client, key string, rev int64) (*clientv3.TxnResponse, error) {
	ctx, cancel := ctxT(10 * time.Second)
	defer cancel()
	return c.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).
		Then(clientv3.OpDelete(key)).Else(clientv3.OpGet(key)).Commit()
}

// get: Range(key, limit=1).
func get(c *clientv3.Client, key string) (*clientv3.GetResponse, error) {
	ctx, cancel := ctxT(10 * time.Second)
	defer cancel()
	return c.Get(ctx, key, clientv3.WithLimit(1))
}

// listPage: Range(from, range_end=prefixEnd(prefix), limit, revision).
func listPage(c *clientv3.Client, prefix, from string, limit, rev int64) (*clientv3.GetResponse, error) {
	ctx, cancel := ctxT(15 * time.Second)
	defer cancel()
	opts := []clientv3.OpOption{clientv3.WithRange(prefixEnd(prefix)), clientv3.WithLimit(limit)}
	if rev > 0 {
		opts = append(opts, clientv3.WithRev(rev))
	}
	return c.Get(ctx, from, opts...)
}

// list pages through prefix at one revision (the first page's header revision when rev is 0), as
// the apiserver's continue tokens do: the next page starts at the last key + "\x00".
func list(c *clientv3.Client, prefix string, limit, rev int64) (map[string]kv, int64, error) {
	out := map[string]kv{}
	from := prefix
	for {
		r, err := listPage(c, prefix, from, limit, rev)
		if err != nil {
			return nil, rev, err
		}
		if rev == 0 {
			rev = r.Header.Revision
		}
		for _, x := range r.Kvs {
			out[string(x.Key)] = kv{string(x.Value), x.ModRevision, x.Lease}
		}
		if !r.More || len(r.Kvs) == 0 {
			return out, rev, nil
		}
		from = string(r.Kvs[len(r.Kvs)-1].Key) + "\x00"
	}
}

// compact is the apiserver's compaction step (etcd3/compact.go): claim the slot with a Txn on the
// version of compact_rev_key, then Compact the revision recorded one interval earlier.
func compact(c *clientv3.Client, tm, rev int64) (int64, int64, bool, error) {
	const key = "compact_rev_key"
	ctx, cancel := ctxT(10 * time.Second)
	defer cancel()
	r, err := c.Txn(ctx).If(clientv3.Compare(clientv3.Version(key), "=", tm)).
		Then(clientv3.OpPut(key, strconv.FormatInt(rev, 10))).Else(clientv3.OpGet(key)).Commit()
	if err != nil {
		return tm, rev, false, err
	}
	cur := r.Header.Revision
	if !r.Succeeded {
		return r.Responses[0].GetResponseRange().Kvs[0].Version, cur, false, nil
	}
	if rev == 0 {
		return tm + 1, cur, false, nil
	}
	_, err = c.Compact(ctx, rev)
	return tm + 1, cur, err == nil, err
}

func txnText(r *clientv3.TxnResponse, err error) string {
	if err != nil {
		return "err=" + err.Error()
	}
	s := fmt.Sprintf("succeeded=%v rev=%d", r.Succeeded, r.Header.Revision)
	for _, op := range r.Responses {
		if rr := op.GetResponseRange(); rr != nil {
			for _, x := range rr.Kvs {
				s += fmt.Sprintf(" current{%s=%s mod=%d ver=%d}", x.Key, x.Value, x.ModRevision, x.Version)
			}
		}
		if dr := op.GetResponseDeleteRange(); dr != nil {
			s += fmt.Sprintf(" deleted=%d", dr.Deleted)
		}
	}
	return s
}

func getText(r *clientv3.GetResponse, err error) string {
	if err != nil {
		return "err=" + err.Error()
	}
	s := fmt.Sprintf("rev=%d count=%d more=%v", r.Header.Revision, r.Count, r.More)
	for _, x := range r.Kvs {
		s += fmt.Sprintf(" %s=%q@%d/%d", x.Key, x.Value, x.CreateRevision, x.ModRevision)
	}
	return s
}

// watchSupportsProgress is kube-apiserver's gate (pkg/storage/feature/feature_support_checker.go):
// RequestWatchProgress is used only from 3.4.31 and from 3.5.13 on.
func watchSupportsProgress(v string) bool {
	var maj, min, patch int
	if _, err := fmt.Sscanf(v, "%d.%d.%d", &maj, &min, &patch); err != nil {
		return false
	}
	switch {
	case maj != 3:
		return maj > 3
	case min < 4:
		return false
	case min == 4:
		return patch >= 31
	case min == 5:
		return patch >= 13
	}
	return true
}

func main() {
	eps := flag.String("endpoints", "", "comma-separated endpoints (3)")
	objects := flag.Int("objects", 10000, "objects created in phase B")
	restartDir := flag.String("restart-dir", "", "where restart.req / restart.done are exchanged")
	flag.Parse()
	endpoints := strings.Split(*eps, ",")
	if len(endpoints) != 3 {
		fmt.Println("FAIL usage: -endpoints a,b,c")
		os.Exit(2)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 20 * time.Second,
		DialKeepAliveTime: 30 * time.Second, DialKeepAliveTimeout: 10 * time.Second})
	must("client", err)
	defer cli.Close()
	strict := phaseA(cli, endpoints)
	phaseB(cli, endpoints, *objects, *restartDir, strict)
	if atomic.LoadInt32(&failed) != 0 {
		os.Exit(1)
	}
}
