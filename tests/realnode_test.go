package tests

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/pulumi-jobs/pulumi-jobs/deploy/driver"
	"github.com/pulumi-jobs/pulumi-jobs/infra/config"
	"github.com/pulumi-jobs/pulumi-jobs/tests/localcluster"
)

// realNode is a cluster of its own with one real node (kubelet, containerd,
// runc, CNI, kube-proxy) beside kwok's, PostgreSQL on the host, and the env
// of the suite pointed at that cluster.
type realNode struct {
	env  *env
	node *localcluster.Node
	pg   *localcluster.Postgres
}

// realNodePGPort is the PostgreSQL port of the real node's tests.
const realNodePGPort = 55432

// startRealNode starts the real node's cluster for t, or skips t (fails it
// under PULUMI_JOBS_E2E=require) saying what is missing. Everything is
// stopped and removed when t ends, pass or fail, and t fails if anything
// is left on the machine.
func startRealNode(t *testing.T) *realNode {
	t.Helper()
	e := setup(t)
	images := filepath.Join(e.root, ".state", "node-images.tar")
	missing := append(localcluster.NodeMissing(e.bin), localcluster.PostgresMissing()...)
	if _, err := os.Stat(images); err != nil {
		missing = append(missing, images+" (make node)")
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("the real node needs %s: run `make node` (as root)", strings.Join(missing, ", "))
		if os.Getenv("PULUMI_JOBS_E2E") == "require" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "pulumi-jobs-e2e-node-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	// PostgreSQL runs as the user postgres, below dir.
	require.NoError(t, os.Chmod(dir, 0o755))

	kwokConfig, err := localcluster.RealNodeConfig(filepath.Join(e.root, ".state", "kwok.yaml"), dir)
	require.NoError(t, err)
	start := time.Now()
	cluster, err := localcluster.Start(ctx, e.bin, filepath.Join(dir, "kwok"), kwokConfig, fmt.Sprintf("pulumi-jobs-e2e-node-%d", os.Getpid()), 1)
	require.NoError(t, err)
	t.Cleanup(cluster.Stop)
	t.Logf("cluster ready in %s", time.Since(start).Round(100*time.Millisecond))

	nodeDir := filepath.Join(dir, "node")
	start = time.Now()
	node, err := localcluster.StartNode(ctx, cluster, nodeDir, images)
	require.NoError(t, err)
	t.Cleanup(func() {
		start := time.Now()
		node.Stop()
		t.Logf("real node stopped and cleaned up in %s", time.Since(start).Round(100*time.Millisecond))
		assert.Empty(t, localcluster.Leftovers(e.bin, nodeDir), "the real node leaves nothing on the machine")
	})
	for _, s := range node.Timings {
		t.Logf("real node: %s in %s", s.Step, s.Took.Round(10*time.Millisecond))
	}
	t.Logf("real node %s ready in %s (host address %s)", node.Name, time.Since(start).Round(100*time.Millisecond), node.HostIP)

	pg, err := localcluster.StartPostgres(ctx, filepath.Join(dir, "postgres"), realNodePGPort, localcluster.PodCIDR)
	require.NoError(t, err)
	t.Cleanup(pg.Stop)

	// An interrupt ends the test process without cleanups (TestMain stops
	// the shared cluster and exits): stop the node first.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-sig:
			pg.Stop()
			node.Stop()
			cluster.Stop()
		case <-done:
		}
	}()
	t.Cleanup(func() { signal.Stop(sig); close(done) })

	ne := *e
	ne.cluster = cluster
	return &realNode{env: &ne, node: node, pg: pg}
}

// releaseOnRealNode opens a stack whose namespace sends every pod to the
// real node (created here, restricted, not by the release) and whose
// databaseUrl is a fresh database of the real node's PostgreSQL. It returns
// the stack and the database's name.
func (rn *realNode) releaseOnRealNode(t *testing.T) (*testStack, string) {
	t.Helper()
	ctx := context.Background()
	r := newStack(t, rn.env, "dev")
	rn.namespace(t, r.namespace)
	db := strings.ReplaceAll(r.namespace, "-", "_")
	require.NoError(t, rn.pg.CreateDatabase(ctx, db))
	stack := r.Stack()
	require.NoError(t, stack.SetConfig(ctx, config.Key(config.KeyDatabaseURL),
		auto.ConfigValue{Value: rn.pg.DatabaseURL(rn.node.HostIP, db), Secret: true}))
	return r, db
}

// namespace creates the namespace name, restricted, whose pods all go to
// the real node.
func (rn *realNode) namespace(t *testing.T, name string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name:        name,
		Labels:      map[string]string{"pod-security.kubernetes.io/enforce": "restricted"},
		Annotations: localcluster.RealNodeNamespaceAnnotations,
	}}
	_, err := rn.env.cluster.Client.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{})
	require.NoError(t, err)
}

// realApp is the app config of image tag on the real node: its readiness
// endpoint answers only once the schema it needs is in the database.
func realApp(tag string) map[string]any {
	return map[string]any{
		"name": "shop", "image": "pulumi-jobs.local/app:" + tag, "replicas": 1, "port": 8080,
		"readinessPath": "/healthz", "env": map[string]any{"READY_AFTER": "3s"},
	}
}

// realJob is a job running image with args on the real node.
func realJob(name, image string, args []string, extra map[string]any) map[string]any {
	j := map[string]any{"name": name, "image": image, "command": []string{"/app/" + strings.Split(strings.TrimPrefix(image, "pulumi-jobs.local/"), ":")[0]},
		"args": args, "timeout": "3m", "backoffLimit": 0}
	for k, v := range extra {
		j[k] = v
	}
	return j
}

// TestRealNode releases onto a real node with real containers: a migration
// that creates the schema in PostgreSQL before the app starts, an app whose
// readiness is real, a smoke test that reads the new version through the
// Service; an image bump that migrates then rolls; a migration that exits 3
// (the report shows the exit code and its real log, the old version keeps
// serving); pods that cannot start fail the up fast with the kubelet's
// reason.
func TestRealNode(t *testing.T) {
	rn := startRealNode(t)
	ctx := context.Background()
	client := rn.env.cluster.Client
	r, db := rn.releaseOnRealNode(t)
	no := false

	release := func(tag string, schema int, pre []map[string]any) stackConfig {
		return stackConfig{
			App:             realApp(tag),
			CreateNamespace: &no,
			PreDeploy:       pre,
			PostDeploy: []map[string]any{realJob("smoke", "pulumi-jobs.local/smoke:v1",
				[]string{"--url", "http://shop:8080/version", "--expect", fmt.Sprintf("%s schema=%d", tag, schema)}, nil)},
		}
	}
	migrate := func(to int) []map[string]any {
		return []map[string]any{realJob("migrate", "pulumi-jobs.local/migrate:v1", []string{"--to", fmt.Sprint(to)}, nil)}
	}

	t.Run("first release: migration, real readiness, smoke through the Service", func(t *testing.T) {
		r.write(t, release("v1", 1, migrate(1)))
		start := time.Now()
		_, err := r.Up(ctx)
		require.NoError(t, err, "engine progress:\n%s", r.progress.String())
		t.Logf("first release on the real node: %s", time.Since(start).Round(100*time.Millisecond))
		checkReleased(t, rn, r, db, "v1", 1)
	})

	t.Run("image bump: migrates, then rolls", func(t *testing.T) {
		r.write(t, release("v2", 2, migrate(2)))
		start := time.Now()
		_, err := r.Up(ctx)
		require.NoError(t, err, "engine progress:\n%s", r.progress.String())
		t.Logf("image bump on the real node: %s", time.Since(start).Round(100*time.Millisecond))
		checkReleased(t, rn, r, db, "v2", 2)
	})

	t.Run("a migration that exits 3: real exit code and log, the old version keeps serving", func(t *testing.T) {
		cfg := release("v1", 2, []map[string]any{realJob("migrate", "pulumi-jobs.local/migrate:v1", []string{"--to", "2", "--fail", "3"}, nil)})
		r.write(t, cfg)
		start := time.Now()
		_, err := r.Up(ctx)
		require.Error(t, err)
		t.Logf("failed migration ended the up in %s", time.Since(start).Round(100*time.Millisecond))
		failed, err := r.FailedJobs(ctx, start)
		require.NoError(t, err)
		require.Len(t, failed, 1)
		f := failed[0]
		assert.Equal(t, "migrate", f.ConfigName)
		assert.Equal(t, "BackoffLimitExceeded", f.Reason)
		require.Len(t, f.Containers, 1, "backoffLimit 0: one pod ran")
		c := f.Containers[0]
		assert.Equal(t, int32(3), c.ExitCode, "the container's real exit code")
		assert.Equal(t, "Error", c.Reason)
		// stdout and stderr reach the log through two pipes: their lines may
		// come in either order.
		realLog := []string{
			"schema at version 2, migrating to 2",
			`migration 3 failed: relation "items" is locked by another session`,
		}
		assert.ElementsMatch(t, realLog, c.Log, "the container's real output, stdout and stderr")
		var report strings.Builder
		driver.WriteFailureReport(&report, r.namespace, failed)
		t.Logf("the report the driver prints:\n%s", report.String())
		assert.Contains(t, report.String(), "container migrate: Error, exit code 3")

		// kubectl logs of the kept run shows the same.
		pods, err := client.CoreV1().Pods(r.namespace).List(ctx, metav1.ListOptions{LabelSelector: batchv1.JobNameLabel + "=" + f.Name})
		require.NoError(t, err)
		require.Len(t, pods.Items, 1)
		out, err := exec.Command(filepath.Join(rn.env.bin, "kubectl"), "--kubeconfig", rn.env.cluster.Kubeconfig,
			"-n", r.namespace, "logs", pods.Items[0].Name).CombinedOutput()
		require.NoError(t, err, string(out))
		assert.ElementsMatch(t, realLog, strings.Split(strings.TrimSpace(string(out)), "\n"), "kubectl logs of the kept run")

		assert.Equal(t, "v2 schema=2", getThroughService(t, rn, r.namespace), "the old version keeps serving")
		dep, err := client.AppsV1().Deployments(r.namespace).Get(ctx, "shop", metav1.GetOptions{})
		require.NoError(t, err)
		assert.Equal(t, "pulumi-jobs.local/app:v2", dep.Spec.Template.Spec.Containers[0].Image, "the app was not touched")
	})

	for _, tc := range []struct {
		name, image string
		reasons     []string
		message     string
	}{
		{"a root image under restricted fails fast", "pulumi-jobs.local/migrate:root",
			[]string{"CreateContainerConfigError"}, "container has runAsNonRoot and image will run as root"},
		{"a missing image fails fast", "pulumi-jobs.local/migrate:missing",
			[]string{"ErrImagePull", "ImagePullBackOff"}, "pulumi-jobs.local/migrate:missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r.write(t, release("v1", 2, []map[string]any{realJob("migrate", tc.image, []string{"--to", "2"}, nil)}))
			start := time.Now()
			_, err := r.Up(ctx)
			took := time.Since(start)
			require.Error(t, err)
			t.Logf("%s: the up failed after %s: %v", tc.image, took.Round(100*time.Millisecond), err)
			text := err.Error() + "\n" + r.progress.String()
			assert.True(t, containsAny(text, tc.reasons), "the up names the kubelet's reason, one of %v", tc.reasons)
			assert.Contains(t, text, tc.message, "the up carries the kubelet's message")
			assert.Less(t, took, 60*time.Second, "the up fails fast, not at the job's 3 minute timeout")
			assert.Equal(t, "v2 schema=2", getThroughService(t, rn, r.namespace), "the old version keeps serving")
		})
	}

	// The app's own pods: the release awaits the Deployment's rollout
	// itself (the provider's awaiter waits for its whole timeout).
	for _, tc := range []struct {
		name, image string
		reasons     []string
		message     string
	}{
		{"an app image that is missing fails the rollout fast", "pulumi-jobs.local/app:missing",
			[]string{"ErrImagePull", "ImagePullBackOff"}, "pulumi-jobs.local/app:missing"},
		{"an app image that runs as root fails the rollout fast", "pulumi-jobs.local/migrate:root",
			[]string{"CreateContainerConfigError"}, "container has runAsNonRoot and image will run as root"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := release("v1", 2, migrate(2))
			cfg.App["image"] = tc.image
			r.write(t, cfg)
			start := time.Now()
			res, err := r.Up(ctx)
			took := time.Since(start)
			require.Error(t, err)
			t.Logf("app image %s: the up failed after %s: %v", tc.image, took.Round(100*time.Millisecond), err)
			assert.Less(t, took, 60*time.Second, "the up fails fast, not at the Deployment's 10 minute timeout")
			var onDeployment []string
			for _, e := range res.Events {
				if d := e.DiagnosticEvent; d != nil && d.Severity == "error" && strings.HasSuffix(d.URN, "$kubernetes:apps/v1:Deployment::shop") {
					onDeployment = append(onDeployment, d.Message)
				}
			}
			require.Len(t, onDeployment, 1, "one error on the Deployment, from the release's rollout await")
			assert.Contains(t, onDeployment[0], "the rollout of Deployment "+r.namespace+"/shop cannot finish: pod shop-")
			assert.True(t, containsAny(onDeployment[0], tc.reasons), "the kubelet's reason, one of %v: %s", tc.reasons, onDeployment[0])
			assert.Contains(t, onDeployment[0], tc.message, "the kubelet's message")
			assert.Contains(t, err.Error(), tc.message, "the up's error carries it too")

			jobs, err := client.BatchV1().Jobs(r.namespace).List(ctx, metav1.ListOptions{LabelSelector: "pulumi-jobs/job=smoke"})
			require.NoError(t, err)
			for _, j := range jobs.Items {
				assert.True(t, j.CreationTimestamp.Time.Before(start.Add(-time.Second)), "no smoke test ran after the failed rollout: %s", j.Name)
			}
			assert.Equal(t, "v2 schema=2", getThroughService(t, rn, r.namespace), "the old version keeps serving")
		})
	}

	t.Run("after the failures, a good release goes through", func(t *testing.T) {
		// The Jobs podwatch failed are replaced, not updated: nothing of
		// its patch stands in the way.
		r.write(t, release("v1", 2, migrate(2)))
		_, err := r.Up(ctx)
		require.NoError(t, err, "engine progress:\n%s", r.progress.String())
		checkReleased(t, rn, r, db, "v1", 2)
	})
}

// TestRealNodeYAML: the same fast failure on the path that runs the
// component in our component provider: a plain `pulumi up` of the
// release-yaml example, whose image runs as root.
func TestRealNodeYAML(t *testing.T) {
	rn := startRealNode(t)
	const ns = "e2e-real-node-yaml"
	rn.namespace(t, ns)
	s := newCLIStack(t, rn.env, "release-yaml", map[string]string{
		"image": "pulumi-jobs.local/migrate:root", "namespace": ns, "createNamespace": "false",
	})
	start := time.Now()
	_, err := s.up(t)
	took := time.Since(start)
	require.Error(t, err)
	t.Logf("plain pulumi up, a root image: failed after %s", took.Round(100*time.Millisecond))
	assert.Contains(t, err.Error(), "CreateContainerConfigError")
	assert.Contains(t, err.Error(), "container has runAsNonRoot and image will run as root")
	assert.Contains(t, err.Error(), "cannot start: pod shop-pre-deploy-migrate-schema-", "podwatch's report, from the component provider")
	assert.Less(t, took, 90*time.Second, "the up fails fast, not at the job's 5 minute timeout")

	// Rollouts, awaited by the release in the component provider: programs
	// of the same project whose app cannot start, the built-in app's
	// Deployment and a StatefulSet of the team's files.
	for _, tc := range []struct {
		what, image, app string
		files            map[string]string
		want             string
	}{
		{"a missing app image", "pulumi-jobs.local/app:missing", "{name: shop, replicas: 1, port: 8080}", nil,
			"the rollout of Deployment " + ns + "/shop cannot finish: pod shop-"},
		{"a StatefulSet of the files with a missing image", "pulumi-jobs.local/db:missing", "{name: shop, manifests: db.yaml}",
			map[string]string{"db.yaml": `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  serviceName: db
  replicas: 1
  selector:
    matchLabels: {app: db}
  template:
    metadata:
      labels: {app: db}
    spec:
      securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
      containers:
        - name: db
          image: pulumi-jobs.local/db:missing
          securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
`}, "the rollout of StatefulSet " + ns + "/db cannot finish: pod db-0, container db: "},
	} {
		for name, text := range tc.files {
			require.NoError(t, os.WriteFile(filepath.Join(s.dir, name), []byte(text), 0o644))
		}
		require.NoError(t, os.WriteFile(filepath.Join(s.dir, "Pulumi.yaml"), []byte(`name: release-yaml
runtime: yaml
resources:
  shop:
    type: pulumi-jobs:index:Release
    properties:
      namespace: `+ns+`
      createNamespace: false
      image: `+tc.image+`
      app: `+tc.app+`
`), 0o644))
		start := time.Now()
		evts, err := s.up(t)
		took := time.Since(start)
		require.Error(t, err)
		t.Logf("plain pulumi up, %s: failed after %s", tc.what, took.Round(100*time.Millisecond))
		errs := diagnostics(evts, "error")
		assert.Contains(t, errs, tc.want)
		assert.Contains(t, errs, tc.image, "the kubelet's message names the image")
		assert.Less(t, took, 90*time.Second, "%s: the up fails fast, not at the rollout's 10 minute timeout", tc.what)
	}
}

// checkReleased checks a release of tag on the real node: the migration
// brought the database to schema before the app's pod started, the app is
// ready and serves tag, and the smoke test ran after the app was ready and
// read tag through the Service.
func checkReleased(t *testing.T, rn *realNode, r *testStack, db, tag string, schema int) {
	t.Helper()
	ctx := context.Background()
	client := rn.env.cluster.Client

	applied, err := rn.pg.QueryDB(ctx, db, fmt.Sprintf(
		"SELECT extract(epoch FROM applied_at) FROM schema_migrations WHERE version = %d", schema))
	require.NoError(t, err)
	var appliedAt float64
	_, err = fmt.Sscan(applied, &appliedAt)
	require.NoError(t, err, "schema version %d is in PostgreSQL", schema)

	pods, err := client.CoreV1().Pods(r.namespace).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=shop"})
	require.NoError(t, err)
	var app *corev1.Pod
	for i, p := range pods.Items {
		if p.DeletionTimestamp == nil && p.Spec.Containers[0].Image == "pulumi-jobs.local/app:"+tag {
			app = &pods.Items[i]
		}
	}
	require.NotNil(t, app, "an app pod of %s", tag)
	assert.Equal(t, rn.node.Name, app.Spec.NodeName, "the app runs on the real node")
	require.NotEmpty(t, app.Status.ContainerStatuses)
	running := app.Status.ContainerStatuses[0].State.Running
	require.NotNil(t, running, "the app's container runs")
	assert.Less(t, appliedAt, float64(running.StartedAt.UnixMilli())/1000,
		"schema %d was applied before the app's container started", schema)
	var ready time.Time
	for _, c := range app.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			ready = c.LastTransitionTime.Time
		}
	}
	require.False(t, ready.IsZero(), "the app's pod is Ready")
	assert.GreaterOrEqual(t, ready.Sub(running.StartedAt.Time), 3*time.Second, "readiness came from the app's own endpoint (READY_AFTER 3s)")

	jobs, err := client.BatchV1().Jobs(r.namespace).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	sort.Slice(jobs.Items, func(a, b int) bool {
		return jobs.Items[a].CreationTimestamp.After(jobs.Items[b].CreationTimestamp.Time)
	})
	var smoke *batchv1.Job
	for i, j := range jobs.Items {
		if strings.Contains(j.Name, "-post-deploy-smoke-") && complete(j) {
			smoke = &jobs.Items[i]
			break
		}
	}
	require.NotNil(t, smoke, "the smoke test's run completed")
	smokePods, err := client.CoreV1().Pods(r.namespace).List(ctx, metav1.ListOptions{LabelSelector: batchv1.JobNameLabel + "=" + smoke.Name})
	require.NoError(t, err)
	require.Len(t, smokePods.Items, 1)
	sp := smokePods.Items[0]
	assert.Equal(t, rn.node.Name, sp.Spec.NodeName, "the smoke test runs on the real node")
	term := sp.Status.ContainerStatuses[0].State.Terminated
	require.NotNil(t, term)
	assert.Equal(t, int32(0), term.ExitCode)
	assert.False(t, term.StartedAt.Time.Before(ready.Truncate(time.Second)), "the smoke test started after the app was ready")
	logs, err := client.CoreV1().Pods(r.namespace).GetLogs(sp.Name, &corev1.PodLogOptions{}).DoRaw(ctx)
	require.NoError(t, err)
	assert.Equal(t, fmt.Sprintf("smoke: http://shop:8080/version answered %q\n", fmt.Sprintf("%s schema=%d", tag, schema)), string(logs),
		"the smoke test read the new version through the Service, by its name")

	assert.Equal(t, fmt.Sprintf("%s schema=%d", tag, schema), getThroughService(t, rn, r.namespace))
}

// getThroughService GETs /version from the app's Service's ClusterIP, from
// the host (kube-proxy's rules route it to a pod on the real node).
func getThroughService(t *testing.T, rn *realNode, namespace string) string {
	t.Helper()
	svc, err := rn.env.cluster.Client.CoreV1().Services(namespace).Get(context.Background(), "shop", metav1.GetOptions{})
	require.NoError(t, err)
	client := &http.Client{Timeout: 3 * time.Second}
	resp, err := client.Get(fmt.Sprintf("http://%s:8080/version", svc.Spec.ClusterIP))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return strings.TrimSpace(string(b))
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
