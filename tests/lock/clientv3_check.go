// clientv3_check: etcd 3.4's Go client against cairn's Lock and Election services, next to clientv3's
// own client-side recipes (concurrency.Mutex, concurrency.Election) on the same names.
// Built by e2e_lock.py (suite "clientv3") in GOPATH mode against Debian's golang-etcd-server-dev.
// Usage: clientv3_check <endpoint>... ; prints "ok  ..."/"FAIL ..." lines, exits 1 on any failure.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"go.etcd.io/etcd/clientv3"
	"go.etcd.io/etcd/clientv3/concurrency"
	"go.etcd.io/etcd/etcdserver/api/v3election/v3electionpb"
	"go.etcd.io/etcd/etcdserver/api/v3lock/v3lockpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

var failed bool

func check(name string, ok bool, detail ...interface{}) {
	if ok {
		fmt.Println("ok   " + name)
		return
	}
	failed = true
	fmt.Println("FAIL "+name, fmt.Sprint(detail...))
}

func must(what string, err error) {
	if err != nil {
		fmt.Println("FAIL "+what+":", err)
		os.Exit(1)
	}
}

func main() {
	cli, err := clientv3.New(clientv3.Config{Endpoints: os.Args[1:], DialTimeout: 5 * time.Second})
	must("connect", err)
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s1, err := concurrency.NewSession(cli, concurrency.WithTTL(30))
	must("session 1", err)
	s2, err := concurrency.NewSession(cli, concurrency.WithTTL(30))
	must("session 2", err)
	lk := v3lockpb.NewLockClient(cli.ActiveConnection())
	ec := v3electionpb.NewElectionClient(cli.ActiveConnection())

	// A clientv3 Mutex holder makes the Lock service wait, on the same keys.
	m := concurrency.NewMutex(s1, "go-lock")
	must("mutex lock", m.Lock(ctx))
	got := make(chan *v3lockpb.LockResponse, 1)
	go func() {
		r, err := lk.Lock(ctx, &v3lockpb.LockRequest{Name: []byte("go-lock"), Lease: int64(s2.Lease())})
		if err != nil {
			fmt.Println("FAIL v3lockpb Lock:", err)
			os.Exit(1)
		}
		got <- r
	}()
	select {
	case <-got:
		check("v3lockpb Lock waits behind a concurrency.Mutex holder", false)
	case <-time.After(1500 * time.Millisecond):
		check("v3lockpb Lock waits behind a concurrency.Mutex holder", true)
	}
	must("mutex unlock", m.Unlock(ctx))
	select {
	case r := <-got:
		check("v3lockpb Lock acquires after Mutex.Unlock", string(r.Key) == fmt.Sprintf("go-lock/%x", s2.Lease()), string(r.Key))
		_, err = lk.Unlock(ctx, &v3lockpb.UnlockRequest{Key: r.Key})
		check("v3lockpb Unlock", err == nil, err)
	case <-time.After(20 * time.Second):
		check("v3lockpb Lock acquires after Mutex.Unlock", false, "timed out")
	}

	// Election service errors as clientv3 sees them.
	_, err = ec.Leader(ctx, &v3electionpb.LeaderRequest{Name: []byte("go-elect")})
	st, _ := status.FromError(err)
	check("Leader with no leader: Unknown \"election: no leader\"", st.Code() == codes.Unknown && st.Message() == "election: no leader", err)

	// A service Campaign, seen by concurrency.Election, observed over v3electionpb Observe.
	octx, ocancel := context.WithCancel(ctx)
	obs, err := ec.Observe(octx, &v3electionpb.LeaderRequest{Name: []byte("go-elect")})
	must("observe", err)
	cr, err := ec.Campaign(ctx, &v3electionpb.CampaignRequest{Name: []byte("go-elect"), Lease: int64(s1.Lease()), Value: []byte("svc")})
	must("campaign", err)
	check("Campaign's leader key", string(cr.Leader.Key) == fmt.Sprintf("go-elect/%x", s1.Lease()) && cr.Leader.Lease == int64(s1.Lease()), cr.Leader)
	e2 := concurrency.NewElection(s2, "go-elect")
	lr, err := e2.Leader(ctx)
	check("concurrency.Election.Leader sees the service's leader", err == nil && string(lr.Kvs[0].Value) == "svc", err)
	first, err := obs.Recv()
	check("Observe streams the leader", err == nil && string(first.Kv.Value) == "svc", err)
	won := make(chan error, 1)
	go func() { won <- e2.Campaign(ctx, "client") }()
	time.Sleep(time.Second)
	_, err = ec.Proclaim(ctx, &v3electionpb.ProclaimRequest{Leader: cr.Leader, Value: []byte("svc2")})
	check("Proclaim", err == nil, err)
	next, err := obs.Recv()
	check("Observe streams the proclamation", err == nil && string(next.Kv.Value) == "svc2", err)
	select {
	case <-won:
		check("concurrency.Election.Campaign waits behind the service's leader", false)
	default:
		check("concurrency.Election.Campaign waits behind the service's leader", true)
	}
	_, err = ec.Resign(ctx, &v3electionpb.ResignRequest{Leader: cr.Leader})
	check("Resign", err == nil, err)
	select {
	case err := <-won:
		check("concurrency.Election.Campaign wins after Resign", err == nil, err)
	case <-time.After(20 * time.Second):
		check("concurrency.Election.Campaign wins after Resign", false, "timed out")
	}
	third, err := obs.Recv()
	check("Observe streams the new leader", err == nil && string(third.Kv.Value) == "client", err)
	ocancel()
	_, err = ec.Proclaim(ctx, &v3electionpb.ProclaimRequest{Leader: cr.Leader, Value: []byte("svc3")})
	st, _ = status.FromError(err)
	check("Proclaim after Resign: Unknown \"election: not leader\"", st.Code() == codes.Unknown && st.Message() == "election: not leader", err)
	must("resign", e2.Resign(ctx))
	_, err = e2.Leader(ctx)
	check("concurrency.Election.Leader with no leader: ErrElectionNoLeader", err == concurrency.ErrElectionNoLeader, err)
	s1.Close()
	s2.Close()
	if failed {
		os.Exit(1)
	}
	fmt.Println("all clientv3 checks passed")
}
