package driver

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	jobsconfig "github.com/pulumi-jobs/pulumi-jobs/infra/config"
)

// ReachTimeout bounds the check that the cluster answers.
const ReachTimeout = 10 * time.Second

// ErrUnreachable means the cluster did not answer; nothing was done.
var ErrUnreachable = errors.New("the cluster cannot be reached")

// Preflight is what the driver found and did before an engine operation.
type Preflight struct {
	// Recovered lists what an interrupted run had left and was recovered.
	Recovered []string
	// Lost lists objects the state records that the cluster no longer has.
	// When it is not empty, the following operation refreshes the state first.
	Lost []string
}

// stateResource is the part of a state resource the preflight reads.
type stateResource struct {
	URN     string         `json:"urn"`
	Type    string         `json:"type"`
	Delete  bool           `json:"delete"`
	Outputs map[string]any `json:"outputs"`
}

// name returns the resource's metadata.namespace and metadata.name.
func (r stateResource) name() (ns, name string) {
	meta, _ := r.Outputs["metadata"].(map[string]any)
	ns, _ = meta["namespace"].(string)
	name, _ = meta["name"].(string)
	return ns, name
}

// Preflight checks, before an engine operation, everything that must hold
// for the engine's answer to be true, cheaply and before the engine runs.
// Before every verb:
//
//   - the cluster answers (a preview against no cluster must not pass);
//   - what an interrupted run left behind is recovered (Recover).
//
// Before preview and up also:
//
//   - the stack config has no unknown pulumi-jobs keys (a typo such as
//     preDeploys would silently skip the migrations);
//   - the namespace and Deployment the state records still exist. When the
//     cluster has lost them (deleted, or recreated empty), the state is
//     refreshed as part of the next preview or up, so the release is put
//     back instead of being reported "unchanged".
//
// That the release takes over nothing it did not create is not checked
// here but where the release is planned (infra/release), so that every way
// of running it — this driver, a plain `pulumi up`, the component provider —
// refuses the same objects, in preview and up alike.
func (d *Driver) Preflight(ctx context.Context, verb string) (Preflight, error) {
	var pf Preflight
	settings, err := d.ws.StackSettings(ctx, d.opts.Stack)
	if err != nil {
		return pf, fmt.Errorf("reading the config of stack %q: %w", d.opts.Stack, err)
	}
	if verb == "preview" || verb == "up" {
		keys := make([]string, 0, len(settings.Config))
		for k := range settings.Config {
			keys = append(keys, k.String())
		}
		if problems := jobsconfig.UnknownKeys(keys); len(problems) > 0 {
			return pf, &jobsconfig.Error{Stack: d.opts.Stack, Problems: problems}
		}
	}

	client, err := d.kubeClient()
	if err != nil {
		return pf, err
	}
	if err := d.reachable(ctx, client); err != nil {
		return pf, err
	}

	pf.Recovered, err = d.Recover(ctx)
	if err != nil {
		return pf, fmt.Errorf("recovering from an interrupted run: %w", err)
	}
	if verb != "preview" && verb != "up" {
		return pf, nil // refresh and destroy create nothing, and refresh repairs the state itself
	}

	resources, err := d.stateResources(ctx)
	if err != nil {
		return pf, err
	}
	for _, r := range resources {
		if r.Delete || (r.Type != "kubernetes:core/v1:Namespace" && r.Type != "kubernetes:apps/v1:Deployment") {
			continue
		}
		ns, name := r.name()
		var getErr error
		if r.Type == "kubernetes:core/v1:Namespace" {
			_, getErr = client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		} else {
			_, getErr = client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		}
		switch {
		case apierrors.IsNotFound(getErr):
			pf.Lost = append(pf.Lost, fmt.Sprintf("%s %s", typeName(r.Type), strings.TrimPrefix(ns+"/"+name, "/")))
		case getErr != nil:
			return pf, fmt.Errorf("checking %s %s/%s in the cluster: %w", typeName(r.Type), ns, name, getErr)
		}
	}
	d.refresh = len(pf.Lost) > 0
	return pf, nil
}

// reachable fails clearly when the cluster does not answer.
func (d *Driver) reachable(ctx context.Context, client kubernetes.Interface) error {
	ctx, cancel := context.WithTimeout(ctx, ReachTimeout)
	defer cancel()
	if _, err := client.Discovery().RESTClient().Get().AbsPath("/version").Do(ctx).Raw(); err != nil {
		where := d.opts.Kubeconfig
		if where == "" {
			where = "$KUBECONFIG or ~/.kube/config"
		}
		return fmt.Errorf("%w (kubeconfig %s): %v\nNothing was previewed or changed. Start the local cluster with `make cluster-up`, or pass the right cluster with --kubeconfig", ErrUnreachable, where, err)
	}
	return nil
}

// stateResources returns the resources of the stack's state.
func (d *Driver) stateResources(ctx context.Context) ([]stateResource, error) {
	deployment, err := d.deployment(ctx)
	if err != nil || len(deployment) == 0 {
		return nil, err
	}
	var dep struct {
		Resources []stateResource `json:"resources"`
	}
	if err := json.Unmarshal(deployment, &dep); err != nil {
		return nil, fmt.Errorf("reading the state of stack %q: %w", d.opts.Stack, err)
	}
	return dep.Resources, nil
}

// deployment returns the stack's state as `pulumi stack export` would, for
// reading only. With a local file backend it reads the checkpoint file
// directly (<backend>/.pulumi/stacks/<project>/<stack>.json, or .json.gz):
// the export starts the CLI, which costs about half a second here, and the
// preflight runs before every operation. Anything else is exported.
func (d *Driver) deployment(ctx context.Context) (json.RawMessage, error) {
	if backend, ok := strings.CutPrefix(d.opts.BackendURL, "file://"); ok {
		project, err := d.ws.ProjectSettings(ctx)
		if err != nil {
			return nil, fmt.Errorf("reading the project settings: %w", err)
		}
		dep, found, err := readCheckpoint(filepath.Join(backend, ".pulumi", "stacks", string(project.Name), d.opts.Stack))
		if err != nil || found {
			return dep, err
		}
	}
	state, err := d.stack.Export(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the state of stack %q: %w", d.opts.Stack, err)
	}
	return state.Deployment, nil
}

// readCheckpoint reads the latest deployment from a file backend's
// checkpoint at base+".json" or base+".json.gz"; found is false when there
// is neither (a new stack, or another encoding such as .json.zst).
func readCheckpoint(base string) (deployment json.RawMessage, found bool, err error) {
	b, err := os.ReadFile(base + ".json")
	if errors.Is(err, os.ErrNotExist) {
		f, gzErr := os.Open(base + ".json.gz")
		if errors.Is(gzErr, os.ErrNotExist) {
			return nil, false, nil
		}
		if gzErr != nil {
			return nil, false, fmt.Errorf("reading the checkpoint: %w", gzErr)
		}
		defer f.Close()
		zr, gzErr := gzip.NewReader(f)
		if gzErr != nil {
			return nil, false, fmt.Errorf("reading the checkpoint %s.json.gz: %w", base, gzErr)
		}
		b, err = io.ReadAll(zr)
	}
	if err != nil {
		return nil, false, fmt.Errorf("reading the checkpoint: %w", err)
	}
	var cp struct {
		Checkpoint struct {
			Latest json.RawMessage `json:"latest"`
		} `json:"checkpoint"`
	}
	if err := json.Unmarshal(b, &cp); err != nil {
		return nil, false, fmt.Errorf("reading the checkpoint %s: %w", base, err)
	}
	return cp.Checkpoint.Latest, true, nil
}

// typeName shortens a Pulumi type token to its kind ("kubernetes:apps/v1:Deployment" → "Deployment").
func typeName(t string) string {
	return t[strings.LastIndex(t, ":")+1:]
}
