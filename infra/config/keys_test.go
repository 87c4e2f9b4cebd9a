package config

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestObjectKeys pins the keys of the config's objects, which come from the
// args types' pulumi tags.
func TestObjectKeys(t *testing.T) {
	assert.Equal(t, []string{"chart", "env", "image", "livenessProbe", "manifests", "name", "pod", "port", "readinessPath", "readinessProbe", "replicas", "resources", "startupProbe"}, appKeys())
	assert.Equal(t, []string{"accessTokenSecret", "branch", "directory", "repository", "resyncInterval", "serviceAccount", "targetStack"}, gitOpsKeys())
	assert.Equal(t, []string{"annotations", "args", "backoffLimit", "command", "env", "image", "manifest", "name", "pod", "rerun", "resources", "timeout", "wave"}, jobKeys())
}
