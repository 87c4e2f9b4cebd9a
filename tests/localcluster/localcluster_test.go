package localcluster

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// TestRESTConfigFollowsARecreatedCluster reproduces a cluster created again
// under the same name: a new server with a new CA named kwok-ca, the CA at the
// same path. A client built by RESTConfig trusts the new CA; one built from
// the kubeconfig alone gets the first CA from client-go's TLS cache while the
// first cluster's client is alive (the cache holds transports weakly, which
// is why the failure came and went).
func TestRESTConfigFollowsARecreatedCluster(t *testing.T) {
	dir := t.TempDir()
	caPath := filepath.Join(dir, "ca.crt")
	kubeconfig := filepath.Join(dir, "kubeconfig")
	cluster := func() {
		cert, caPEM := selfSigned(t)
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"major":"1","minor":"36","gitVersion":"v1.36.3"}`))
		}))
		srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
		srv.StartTLS()
		t.Cleanup(srv.Close)
		require.NoError(t, os.WriteFile(caPath, caPEM, 0o600))
		require.NoError(t, os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters:
- name: kwok
  cluster:
    server: `+srv.URL+`
    certificate-authority: `+caPath+`
contexts:
- name: kwok
  context: {cluster: kwok}
current-context: kwok
`), 0o600))
	}
	client := func(byPath bool) kubernetes.Interface {
		cfg, err := RESTConfig(kubeconfig)
		if byPath {
			cfg, err = clientcmd.BuildConfigFromFlags("", kubeconfig)
		}
		require.NoError(t, err)
		c, err := kubernetes.NewForConfig(cfg)
		require.NoError(t, err)
		return c
	}

	cluster()
	first := client(true)
	_, err := first.Discovery().ServerVersion()
	require.NoError(t, err, "the first cluster, its CA read by path")

	cluster() // again: a new CA at the same path
	_, err = client(false).Discovery().ServerVersion()
	require.NoError(t, err, "RESTConfig reads the new CA")
	_, err = client(true).Discovery().ServerVersion()
	require.ErrorContains(t, err, "certificate signed by unknown authority",
		"client-go's cache gave the first CA for that path: if this fails, client-go changed and RESTConfig's reason is gone")
	runtime.KeepAlive(first)
}

// selfSigned is a CA called kwok-ca that is also the server's certificate
// for 127.0.0.1, and its PEM.
func selfSigned(t *testing.T) (tls.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "kwok-ca"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
