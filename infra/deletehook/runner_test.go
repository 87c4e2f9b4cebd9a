package deletehook_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/pulumi-jobs/pulumi-jobs/infra/deletehook"
)

const (
	configMap = `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"shop-drain","labels":{"tier":"hook"}},"data":{"MODE":"drain"}}`
	drainJob  = `{"apiVersion":"batch/v1","kind":"Job","metadata":{},"spec":{"backoffLimit":2,"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"drain","image":"shop:v1"}]}}}}`
	notifyJob = `{"apiVersion":"batch/v1","kind":"Job","metadata":{},"spec":{"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"notify","image":"shop:v1"}]}}}}`
)

// cluster is a fake cluster whose Jobs finish as soon as they are created:
// failed when their name starts with one of fail, else complete. A failed
// Job has a pod, whose log the fake client reads as "fake logs".
type cluster struct {
	runner  *deletehook.Runner
	client  *fake.Clientset
	dynamic *dynamicfake.FakeDynamicClient
}

func newCluster(t *testing.T, namespace bool, fail ...string) *cluster {
	t.Helper()
	var objs []runtime.Object
	if namespace {
		objs = append(objs, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}})
	}
	client := fake.NewClientset(objs...)
	client.PrependReactor("create", "jobs", func(action k8stesting.Action) (bool, runtime.Object, error) {
		job := action.(k8stesting.CreateAction).GetObject().(*batchv1.Job)
		job.Name = job.GenerateName + "x1"
		cond := batchv1.JobCondition{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}
		for _, f := range fail {
			if job.GenerateName == f+"-" {
				cond = batchv1.JobCondition{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", Message: "Job has reached the specified backoff limit"}
				pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: job.Name + "-p", Namespace: job.Namespace, Labels: map[string]string{"batch.kubernetes.io/job-name": job.Name}}}
				if err := client.Tracker().Add(pod); err != nil {
					return true, nil, err
				}
			}
		}
		job.Status.Conditions = []batchv1.JobCondition{cond}
		return false, nil, nil // the tracker stores it
	})
	scheme := runtime.NewScheme()
	require.NoError(t, corev1.AddToScheme(scheme))
	dyn := dynamicfake.NewSimpleDynamicClient(scheme)
	mapper := meta.NewDefaultRESTMapper(nil)
	mapper.Add(schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, meta.RESTScopeNamespace)
	return &cluster{
		runner:  &deletehook.Runner{Client: client, Dynamic: dyn, Mapper: mapper, Poll: time.Millisecond},
		client:  client,
		dynamic: dyn,
	}
}

// jobs lists the cluster's Jobs as "name labels".
func (c *cluster) jobs(t *testing.T) map[string]map[string]string {
	t.Helper()
	list, err := c.client.BatchV1().Jobs("shop").List(context.Background(), metav1.ListOptions{})
	require.NoError(t, err)
	out := map[string]map[string]string{}
	for _, j := range list.Items {
		out[j.Name] = j.Labels
	}
	return out
}

// configMaps lists the cluster's ConfigMaps in shop by name, with their labels.
func (c *cluster) configMaps(t *testing.T) map[string]map[string]string {
	t.Helper()
	list, err := c.dynamic.Resource(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}).Namespace("shop").List(context.Background(), metav1.ListOptions{})
	require.NoError(t, err)
	out := map[string]map[string]string{}
	for _, o := range list.Items {
		out[o.GetName()] = o.GetLabels()
	}
	return out
}

func labels(job, event string) map[string]string {
	return map[string]string{
		"app.kubernetes.io/part-of":    "shop",
		"app.kubernetes.io/managed-by": "pulumi",
		"pulumi-jobs/job":              job,
		"pulumi-jobs/delete-hook":      event,
	}
}

var hooks = []deletehook.Hook{
	{Kind: "ConfigMap", Name: "shop-drain", Source: "shop/templates/drain-config.yaml", Weight: -1, Manifest: configMap},
	{Kind: "Job", Name: "shop-drain", Source: "shop/templates/drain-job.yaml", Weight: 0, Manifest: drainJob, DeleteOnSuccess: true},
	{Kind: "Job", Name: "shop-notify", Source: "shop/templates/notify-job.yaml", Weight: 5, Manifest: notifyJob},
}

func TestRun(t *testing.T) {
	cmLabels := labels("shop-drain", "pre-delete")
	cmLabels["tier"] = "hook"
	for _, tc := range []struct {
		name       string
		namespace  bool
		fail       []string
		wantErr    string
		wantJobs   map[string]map[string]string
		wantConfig map[string]map[string]string
		wantLog    []string
	}{
		{
			name: "every hook in order; hook-succeeded deleted once all succeeded", namespace: true,
			wantJobs:   map[string]map[string]string{"shop-notify-x1": labels("shop-notify", "pre-delete")},
			wantConfig: map[string]map[string]string{"shop-drain": cmLabels},
			wantLog: []string{
				"pre-delete hook Job/shop-drain of release shop succeeded (Job shop-drain-x1)",
				"pre-delete hook Job/shop-notify of release shop succeeded (Job shop-notify-x1)",
			},
		},
		{
			name: "a failed hook stops the run and keeps what ran", namespace: true, fail: []string{"shop-drain"},
			wantErr: "pre-delete hook Job/shop-drain (shop/templates/drain-job.yaml) of release shop failed: " +
				"its Job shop-drain-x1 failed: BackoffLimitExceeded: Job has reached the specified backoff limit; its log ends: \"fake logs\".\n" +
				"The destroy stopped here; what the release still holds is as it was. Fix the hook (or what it needs) and destroy again, " +
				"or set PULUMI_JOBS_SKIP_DELETE_HOOKS=true to destroy without running the hooks",
			wantJobs:   map[string]map[string]string{"shop-drain-x1": labels("shop-drain", "pre-delete")},
			wantConfig: map[string]map[string]string{"shop-drain": cmLabels},
		},
		{
			name:       "no namespace: nothing to run in",
			wantJobs:   map[string]map[string]string{},
			wantConfig: map[string]map[string]string{},
			wantLog:    []string{"pre-delete hooks of release shop not run: its namespace shop is gone"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, tc.namespace, tc.fail...)
			var log []string
			c.runner.Log = func(s string) { log = append(log, s) }
			err := c.runner.Run(context.Background(), deletehook.Args{Event: "pre-delete", Release: "shop", Namespace: "shop", Hooks: hooks})
			if tc.wantErr != "" {
				require.EqualError(t, err, tc.wantErr)
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, tc.wantJobs, c.jobs(t))
			assert.Equal(t, tc.wantConfig, c.configMaps(t))
			assert.Equal(t, tc.wantLog, log)
		})
	}
}

// A destroy retried after a failure deletes what the failed run left
// (Helm's before-hook-creation) before it runs the hook again.
func TestRunReplacesEarlierRuns(t *testing.T) {
	c := newCluster(t, true)
	earlier := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "shop-notify-old", Namespace: "shop", Labels: labels("shop-notify", "pre-delete")}}
	other := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "shop-notify-post", Namespace: "shop", Labels: labels("shop-notify", "post-delete")}}
	for _, j := range []*batchv1.Job{earlier, other} {
		require.NoError(t, c.client.Tracker().Add(j))
	}
	err := c.runner.Run(context.Background(), deletehook.Args{Event: "pre-delete", Release: "shop", Namespace: "shop", Hooks: hooks[2:]})
	require.NoError(t, err)
	assert.Equal(t, map[string]map[string]string{
		"shop-notify-x1":   labels("shop-notify", "pre-delete"),
		"shop-notify-post": labels("shop-notify", "post-delete"),
	}, c.jobs(t))
}

// The Job's pods carry the labels too, so that its logs are found by them.
func TestRunLabelsPods(t *testing.T) {
	c := newCluster(t, true)
	require.NoError(t, c.runner.Run(context.Background(), deletehook.Args{Event: "post-delete", Release: "shop", Namespace: "shop", Hooks: hooks[2:]}))
	job, err := c.client.BatchV1().Jobs("shop").Get(context.Background(), "shop-notify-x1", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, labels("shop-notify", "post-delete"), job.Spec.Template.Labels)
	assert.Equal(t, "shop", job.Namespace)
}
