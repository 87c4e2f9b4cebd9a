// Package pulumitest runs the program on Pulumi's mocked resource monitor and
// records every registration, for unit tests. It also reads the shipped
// Pulumi.yaml and Pulumi.<stack>.yaml files into the config map the engine
// would pass the program.
package pulumitest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"gopkg.in/yaml.v3"
)

// Project is the Pulumi project name.
const Project = "pulumi-jobs"

// MockSuffix is what the mock appends to a resource's logical name when the
// program leaves metadata.name unset, standing in for the provider's
// auto-naming (<name>-<8 hex>).
const MockSuffix = "-0123abcd"

// Registration is one resource registration seen by the mock monitor.
type Registration struct {
	pulumi.MockResourceArgs
	// URN is the URN the engine would give the resource.
	URN string
}

// Monitor is a MockResourceMonitor that records every registration in the
// order it arrived.
type Monitor struct {
	stack string
	mu    sync.Mutex
	regs  []Registration
	seen  map[string]bool
}

// NewResource records the registration and answers with the inputs as
// outputs, auto-naming Kubernetes objects that have no metadata.name. Like
// the engine, it refuses a second registration of one URN.
func (m *Monitor) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	urn := m.urn(args)
	m.mu.Lock()
	if m.seen[urn] {
		m.mu.Unlock()
		return "", nil, fmt.Errorf("duplicate resource URN '%s'; try giving it a unique name", urn)
	}
	if m.seen == nil {
		m.seen = map[string]bool{}
	}
	m.seen[urn] = true
	m.regs = append(m.regs, Registration{MockResourceArgs: args, URN: urn})
	m.mu.Unlock()
	outs := args.Inputs.Copy()
	if args.Custom && strings.HasPrefix(args.TypeToken, "kubernetes:") {
		meta := resource.PropertyMap{}
		if v, ok := outs["metadata"]; ok && v.IsObject() {
			meta = v.ObjectValue().Copy()
		}
		if _, named := meta["name"]; !named {
			meta["name"] = resource.NewProperty(args.Name + MockSuffix)
		}
		outs["metadata"] = resource.NewProperty(meta)
	}
	return args.Name + "-id", outs, nil
}

// Call answers invokes with their arguments; the program makes none.
func (m *Monitor) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return args.Args, nil
}

func (m *Monitor) urn(args pulumi.MockResourceArgs) string {
	parentType := tokens.Type("")
	if p := args.RegisterRPC.GetParent(); p != "" {
		if u := resource.URN(p); u.Type() != resource.RootStackType {
			parentType = u.QualifiedType()
		}
	}
	return string(resource.NewURN(tokens.QName(m.stack), tokens.PackageName(Project), parentType,
		tokens.Type(args.TypeToken), args.Name))
}

// Registrations returns what was registered, in arrival order.
func (m *Monitor) Registrations() []Registration {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.regs)
}

// Config is a stack's config as the engine passes it to a program.
type Config struct {
	// Values maps full keys ("pulumi-jobs:app") to values; objects and lists are JSON.
	Values map[string]string
	// SecretKeys lists the keys whose values are secrets.
	SecretKeys []string
	// Preview runs the program as a preview (ctx.DryRun).
	Preview bool
}

// Set sets a plaintext value.
func (c *Config) Set(key, value string) { c.Values[key] = value }

// SetSecret sets a secret value.
func (c *Config) SetSecret(key, value string) {
	c.Values[key] = value
	if !slices.Contains(c.SecretKeys, key) {
		c.SecretKeys = append(c.SecretKeys, key)
	}
}

// SetObject sets an object or list value, as JSON.
func (c *Config) SetObject(key string, value any) error {
	b, err := json.Marshal(value)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", key, err)
	}
	c.Values[key] = string(b)
	return nil
}

// Run runs program for stack on a fresh mock monitor with cfg and returns the
// monitor and the program's error.
func Run(program pulumi.RunFunc, stack string, cfg Config) (*Monitor, error) {
	m := &Monitor{stack: stack}
	err := pulumi.RunErr(program, pulumi.WithMocks(Project, stack, m), func(info *pulumi.RunInfo) {
		info.Config = cfg.Values
		info.ConfigSecretKeys = cfg.SecretKeys
		info.DryRun = cfg.Preview
	})
	return m, err
}

// LoadStack reads root/Pulumi.yaml's config defaults and
// root/Pulumi.<stack>.yaml as the engine would pass them to the program.
func LoadStack(root, stack string) (Config, error) {
	cfg := Config{Values: map[string]string{}}

	var project struct {
		Config map[string]struct {
			Default any `yaml:"default"`
		} `yaml:"config"`
	}
	if err := readYAML(filepath.Join(root, "Pulumi.yaml"), &project); err != nil {
		return cfg, err
	}
	for key, decl := range project.Config {
		if decl.Default == nil {
			continue
		}
		if err := cfg.set(Project+":"+key, decl.Default); err != nil {
			return cfg, err
		}
	}

	var stackFile struct {
		Config map[string]any `yaml:"config"`
	}
	if err := readYAML(filepath.Join(root, "Pulumi."+stack+".yaml"), &stackFile); err != nil {
		return cfg, err
	}
	for key, value := range stackFile.Config {
		if m, ok := value.(map[string]any); ok && len(m) == 1 && m["secure"] != nil {
			return cfg, fmt.Errorf("Pulumi.%s.yaml: %s holds an encrypted value; the shipped stacks must hold none", stack, key)
		}
		if err := cfg.set(key, value); err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}

func (c *Config) set(key string, value any) error {
	switch v := value.(type) {
	case string:
		c.Values[key] = v
	case bool, int, float64:
		c.Values[key] = fmt.Sprint(v)
	default:
		return c.SetObject(key, v)
	}
	return nil
}

func readYAML(path string, out any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	if err := yaml.Unmarshal(b, out); err != nil {
		return fmt.Errorf("parsing %s: %w", path, err)
	}
	return nil
}

// Source serves a Config as the config.Source of one stack, so tests can
// compute the release.Plan the program sees.
type Source struct {
	Config
	// StackName is the stack's name.
	StackName string
}

// GetConfig returns a value by its full key.
func (s Source) GetConfig(key string) (string, bool) {
	v, ok := s.Values[key]
	return v, ok
}

// IsConfigSecret says whether key was set as a secret.
func (s Source) IsConfigSecret(key string) bool { return slices.Contains(s.SecretKeys, key) }

// Stack returns the stack's name.
func (s Source) Stack() string { return s.StackName }
