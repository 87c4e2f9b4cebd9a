package localcluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"golang.org/x/net/dns/dnsmessage"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// ClusterDomain is the real node's cluster domain.
const ClusterDomain = "cluster.local"

// clusterDNS answers the real node's pods the A records of Services, the
// part of cluster DNS the tests need: "<service>.<namespace>.svc.cluster.local"
// is the Service's ClusterIP; pods reach "<service>" through the search
// domains the kubelet writes into their resolv.conf. Other names get
// NXDOMAIN (the machine is offline).
type clusterDNS struct {
	conn   net.PacketConn
	client kubernetes.Interface
}

// startClusterDNS serves cluster DNS on addr (UDP) until stop.
func startClusterDNS(addr string, client kubernetes.Interface) (*clusterDNS, error) {
	conn, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("cluster DNS: listening on %s: %w", addr, err)
	}
	d := &clusterDNS{conn: conn, client: client}
	go d.serve()
	return d, nil
}

func (d *clusterDNS) stop() { _ = d.conn.Close() }

func (d *clusterDNS) serve() {
	buf := make([]byte, 1500)
	for {
		n, from, err := d.conn.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if resp, err := d.answer(buf[:n]); err == nil {
			_, _ = d.conn.WriteTo(resp, from)
		}
	}
}

// answer builds the response to one query.
func (d *clusterDNS) answer(query []byte) ([]byte, error) {
	var p dnsmessage.Parser
	hdr, err := p.Start(query)
	if err != nil {
		return nil, err
	}
	q, err := p.Question()
	if err != nil {
		return nil, err
	}
	resp := dnsmessage.Header{ID: hdr.ID, Response: true, Authoritative: true, RecursionDesired: hdr.RecursionDesired}
	ip, found := d.lookup(q)
	if !found {
		resp.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, resp)
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(q); err != nil {
		return nil, err
	}
	if err := b.StartAnswers(); err != nil {
		return nil, err
	}
	if ip.IsValid() {
		rh := dnsmessage.ResourceHeader{Name: q.Name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: 5}
		if err := b.AResource(rh, dnsmessage.AResource{A: ip.As4()}); err != nil {
			return nil, err
		}
	}
	return b.Finish()
}

// lookup returns the ClusterIP of the Service q names (an invalid address
// for a name that exists without an A record, e.g. an AAAA query), and
// whether the name exists.
func (d *clusterDNS) lookup(q dnsmessage.Question) (netip.Addr, bool) {
	name := strings.TrimSuffix(strings.ToLower(q.Name.String()), ".")
	rest, ok := strings.CutSuffix(name, ".svc."+ClusterDomain)
	if !ok {
		return netip.Addr{}, false
	}
	service, namespace, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(namespace, ".") {
		return netip.Addr{}, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), dnsTimeout)
	defer cancel()
	svc, err := d.client.CoreV1().Services(namespace).Get(ctx, service, metav1.GetOptions{})
	if apierrors.IsNotFound(err) || err != nil {
		return netip.Addr{}, false
	}
	ip, err := netip.ParseAddr(svc.Spec.ClusterIP)
	if err != nil || !ip.Is4() || q.Type != dnsmessage.TypeA {
		return netip.Addr{}, true
	}
	return ip, true
}
